// The OneRoster connector against a real HTTP server on 127.0.0.1 (SPEC §4): paging, envelope
// checks, retries, auth, concurrency and rate limits. Retry delays are configured in milliseconds.
import { createHmac } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { ProviderError } from "../../src/errors.js";
import { createProvider } from "../../src/providers/index.js";
import { normaliseUser } from "../../src/providers/oneroster/normalise.js";
import { readBody, sendJson, withServer } from "../helpers/with-server.js";

const BASE_PATH = "/ims/oneroster/v1p1/";
const SECRET = "super-secret-value";

type ProviderInput = Partial<Parameters<typeof providerSchema.parse>[0] & Record<string, unknown>>;

function providerConfig(serverUrl: string, overrides: ProviderInput = {}): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    baseUrl: `${serverUrl}${BASE_PATH}`,
    auth: { method: "none" },
    pageSize: 10,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: { limit: 3, baseDelayMs: 5, maxDelayMs: 50 },
    timeoutMs: 5000,
    ...overrides,
  });
  return { ...parsed, name: "district" };
}

function user(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sourcedId: `u${i}`,
    status: "active",
    enabledUser: "true",
    role: "student",
    givenName: `Given${i}`,
    familyName: `Family${i}`,
    username: `user${i}`,
    email: `user${i}@example.org`,
    grades: ["06"],
    orgs: [{ sourcedId: "school-1", type: "org", href: "http://x/orgs/school-1" }],
    ...extra,
  };
}

const users = (n: number): Record<string, unknown>[] => Array.from({ length: n }, (_, i) => user(i + 1));

/** Offset paging over `records` under envelope `key`; the server caps `limit` at `cap`. */
function offsetPage(
  url: URL,
  res: ServerResponse,
  key: string,
  records: unknown[],
  opts: { cap?: number; total?: number } = {},
): void {
  const limit = Math.min(Number(url.searchParams.get("limit") ?? 100), opts.cap ?? Infinity);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  const headers: Record<string, string> = {};
  if (opts.total !== undefined) {
    headers["x-total-count"] = String(opts.total);
  }
  sendJson(res, { [key]: records.slice(offset, offset + limit) }, headers);
}

async function expectProviderError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

/** RFC 5849 verification written independently of src/ (as a server would do it). */
function verifyOAuth1(req: IncomingMessage, secret: string): { valid: boolean; nonce: string | undefined } {
  const header = req.headers.authorization ?? "";
  const oauth = new Map<string, string>();
  for (const m of header.replace(/^OAuth\s+/, "").matchAll(/([\w]+)="([^"]*)"/g)) {
    oauth.set(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
  }
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const enc = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const pairs = [...url.searchParams.entries(), ...[...oauth].filter(([k]) => k !== "oauth_signature")]
    .map(([k, v]) => [enc(k), enc(v)])
    .sort(([a, b], [c, d]) => (a! < c! ? -1 : a! > c! ? 1 : b! < d! ? -1 : b! > d! ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const base = `${req.method}&${enc(`${url.origin}${url.pathname}`)}&${enc(pairs)}`;
  const expected = createHmac("sha256", `${enc(secret)}&`)
    .update(base)
    .digest("base64");
  return {
    valid: oauth.get("oauth_signature") === expected && oauth.get("oauth_signature_method") === "HMAC-SHA256",
    nonce: oauth.get("oauth_nonce"),
  };
}

describe("paging", () => {
  it("keeps going past short pages when the server caps limit, until an empty page", async () => {
    const all = users(25);
    await withServer(
      (_req, res, url) => offsetPage(url, res, "users", all, { cap: 7 }),
      async (server) => {
        const provider = createProvider(providerConfig(server.url, { pageSize: 10 }), {});
        const progress: { pages: number; records: number }[] = [];
        const got = await provider.allUsers("students", (p) => progress.push(p));
        expect(got.map((u) => u.sourcedId)).toEqual(all.map((u) => u.sourcedId));
        // 7 + 7 + 7 + 4, then an empty page proves the end.
        expect(server.requests).toEqual([
          `${BASE_PATH}students?limit=10&offset=0`,
          `${BASE_PATH}students?limit=10&offset=7`,
          `${BASE_PATH}students?limit=10&offset=14`,
          `${BASE_PATH}students?limit=10&offset=21`,
          `${BASE_PATH}students?limit=10&offset=25`,
        ]);
        // Progress comes per page, as increments.
        expect(progress).toEqual([7, 7, 7, 4, 0].map((records) => ({ pages: 1, records })));
        expect(provider.stats).toEqual({ requests: 5, retries: 0, status429: 0 });
        await provider.close();
      },
    );
  });

  it("stops at X-Total-Count without an extra request", async () => {
    const all = users(25);
    await withServer(
      (_req, res, url) => offsetPage(url, res, "users", all, { cap: 10, total: 25 }),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        expect(await provider.allUsers("users")).toHaveLength(25);
        expect(server.requests).toHaveLength(3);
        await provider.close();
      },
    );
  });

  it("follows Link rel=next, relative and absolute, until a Link header without next", async () => {
    const all = users(23);
    await withServer(
      (req, res, url) => {
        const cursor = Number(url.searchParams.get("cursor") ?? 0);
        const page = all.slice(cursor, cursor + 10);
        const next = cursor + 10;
        const headers: Record<string, string> = {};
        if (next < all.length) {
          // Alternate between a relative and an absolute next link.
          // Relative links resolve against the request URL (RFC 3986), as a browser would.
          headers.link =
            cursor === 0
              ? `<students?cursor=${next}>; rel="next", <students?cursor=20>; rel="last"`
              : `<http://${req.headers.host}${BASE_PATH}classes/c1/students?cursor=${next}>; rel=next`;
        } else {
          headers.link = `<students?cursor=0>; rel="first"`;
        }
        sendJson(res, { users: page }, headers);
      },
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const got = await provider.groupMembers({ type: "classes", sourcedId: "c1" }, "students");
        expect(got).toHaveLength(23);
        expect(server.requests).toEqual([
          `${BASE_PATH}classes/c1/students?limit=10&offset=0`,
          `${BASE_PATH}classes/c1/students?cursor=10`,
          `${BASE_PATH}classes/c1/students?cursor=20`,
        ]);
        await provider.close();
      },
    );
  });

  it("never stops while a cursor Link names a next page, even past X-Total-Count", async () => {
    const all = users(23);
    await withServer(
      (_req, res, url) => {
        const cursor = Number(url.searchParams.get("cursor") ?? 0);
        const headers: Record<string, string> = { "x-total-count": "20" };
        if (cursor + 10 < all.length) {
          headers.link = `<students?cursor=${cursor + 10}>; rel="next"`;
        }
        sendJson(res, { users: all.slice(cursor, cursor + 10) }, headers);
      },
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.allUsers("students"));
        expect(error.code).toBe("INCOMPLETE_FETCH");
        expect(error.message).toMatch(/received 23 records of students but X-Total-Count said 20/);
        expect(server.requests).toHaveLength(3);
        await provider.close();
      },
    );
  });

  it("confirms the end by offset only: a cursor walk that the server ends on a full page is not re-asked", async () => {
    const all = users(20);
    await withServer(
      (_req, res, url) => {
        const cursor = Number(url.searchParams.get("cursor") ?? 0);
        const headers: Record<string, string> = { "x-total-count": "20", link: `<students>; rel="first"` };
        if (cursor + 10 < all.length) {
          headers.link = `<students?cursor=${cursor + 10}>; rel="next"`;
        }
        sendJson(res, { users: all.slice(cursor, cursor + 10) }, headers);
      },
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        expect(await provider.allUsers("students")).toHaveLength(20);
        expect(server.requests).toHaveLength(2);
        await provider.close();
      },
    );
  });

  it("fails with INCOMPLETE_FETCH when the count differs from X-Total-Count", async () => {
    const all = users(25);
    await withServer(
      (_req, res, url) => offsetPage(url, res, "users", all, { total: 30 }),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.allUsers("teachers"));
        expect(error.code).toBe("INCOMPLETE_FETCH");
        expect(error.message).toMatch(/fetched 25 records of teachers but X-Total-Count said 30/);
        await provider.close();
      },
    );
  });

  it("fails when the server ignores offset and repeats a page", async () => {
    const all = users(10);
    await withServer(
      (_req, res) => sendJson(res, { users: all }),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.allUsers("students"));
        expect(error.code).toBe("PROVIDER_RESPONSE");
        expect(error.message).toMatch(/repeated records/);
        expect(server.requests).toHaveLength(2);
        await provider.close();
      },
    );
  });

  it.each([
    ["without X-Total-Count", undefined],
    ["with X-Total-Count", 250],
  ])(
    "a server that implements neither limit nor offset (the whole collection every time), %s: one more request shows it",
    async (_name, total) => {
      const all = users(250);
      await withServer(
        (_req, res) =>
          sendJson(res, { users: all }, total === undefined ? {} : { "x-total-count": String(total) }),
        async (server) => {
          const provider = createProvider(providerConfig(server.url), {});
          expect((await provider.allUsers("students")).length).toBe(
            all.filter((u) => u.role === "student").length,
          );
          expect(server.requests).toHaveLength(2);
          await provider.close();
        },
      );
    },
  );

  it("fails on a Link that repeats or that leaves the provider's origin", async () => {
    let n = 0;
    await withServer(
      (_req, res, url) => {
        n += 1;
        const link = url.pathname.endsWith("/students")
          ? `<students?cursor=1>; rel="next"`
          : `<http://203.0.113.9/steal>; rel="next"`;
        sendJson(res, { users: [user(n)] }, { link });
      },
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const repeated = await expectProviderError(provider.allUsers("students"));
        expect(repeated.message).toMatch(/repeated a page/);
        const foreign = await expectProviderError(provider.allUsers("teachers"));
        expect(foreign.message).toMatch(/another origin/);
        expect(server.requests.every((r) => r.startsWith(BASE_PATH))).toBe(true);
        await provider.close();
      },
    );
  });
});

describe("response checks", () => {
  it("rejects an HTML page naming the URL without credentials", async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<!DOCTYPE html><html><body>Maintenance</body></html>");
      },
      async (server) => {
        const config = providerConfig(server.url, {
          auth: { method: "oauth1", clientId: "cid", clientSecret: SECRET },
        });
        const provider = createProvider(config, {});
        const error = await expectProviderError(provider.listGroups("classes"));
        expect(error.code).toBe("PROVIDER_RESPONSE");
        expect(error.message).toBe(
          `provider district answered an HTML page instead of JSON (HTTP 200) at ${server.url}${BASE_PATH}classes?limit=10&offset=0`,
        );
        expect(error.message).not.toMatch(/oauth|super-secret/i);
        await provider.close();
      },
    );
  });

  it("rejects a response without the envelope array", async () => {
    await withServer(
      (_req, res, url) => offsetPage(url, res, "orgs", [{ sourcedId: "s1" }]),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.listGroups("courses"));
        expect(error.code).toBe("PROVIDER_RESPONSE");
        expect(error.message).toMatch(
          /no "courses" array \(keys: orgs\) at http:\/\/127\.0\.0\.1:\d+\/.*courses/,
        );
        // /schools answers with the `orgs` envelope.
        const schools = await provider.listGroups("schools");
        expect(schools).toEqual([{ type: "schools", sourcedId: "s1", fields: { sourcedId: "s1" } }]);
        await provider.close();
      },
    );
  });

  it("rejects a record without sourcedId, naming its index", async () => {
    await withServer(
      (_req, res, url) =>
        offsetPage(url, res, "users", [user(1), { ...user(2), sourcedId: "" }, user(3)], { total: 3 }),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.allUsers("users"));
        expect(error.code).toBe("PROVIDER_RESPONSE");
        expect(error.message).toMatch(/users\[1\] has no sourcedId/);
        await provider.close();
      },
    );
  });
});

describe("retries", () => {
  it("survives a 429 and waits as Retry-After asks (capped at maxDelayMs)", async () => {
    let calls = 0;
    await withServer(
      (_req, res, url) => {
        calls += 1;
        if (calls === 1) {
          sendJson(res, { error: "slow down" }, { "retry-after": "1" }, 429);
          return;
        }
        offsetPage(url, res, "users", users(3), { total: 3 });
      },
      async (server) => {
        const config = providerConfig(server.url, { retry: { limit: 2, baseDelayMs: 1, maxDelayMs: 300 } });
        const provider = createProvider(config, {});
        const started = performance.now();
        expect(await provider.allUsers("students")).toHaveLength(3);
        // Backoff alone would wait ≤ 1 ms; the header asked for 1 s, capped to 300 ms.
        expect(performance.now() - started).toBeGreaterThanOrEqual(250);
        expect(provider.stats).toEqual({ requests: 2, retries: 1, status429: 1 });
        await provider.close();
      },
    );
  });

  it("survives a 503, a reset connection and a timeout", async () => {
    let calls = 0;
    await withServer(
      (req, res, url) => {
        calls += 1;
        if (calls === 1) {
          sendJson(res, { error: "busy" }, {}, 503);
        } else if (calls === 2) {
          req.socket.destroy();
        } else if (calls === 3) {
          setTimeout(() => sendJson(res, { users: [] }), 400).unref();
        } else {
          offsetPage(url, res, "users", users(2), { total: 2 });
        }
      },
      async (server) => {
        const provider = createProvider(providerConfig(server.url, { timeoutMs: 150 }), {});
        expect(await provider.allUsers("students")).toHaveLength(2);
        expect(provider.stats).toEqual({ requests: 4, retries: 3, status429: 0 });
        await provider.close();
      },
    );
  });

  it("gives up after retry.limit with a retriable error", async () => {
    await withServer(
      (_req, res) => sendJson(res, {}, {}, 502),
      async (server) => {
        const provider = createProvider(
          providerConfig(server.url, { retry: { limit: 2, baseDelayMs: 1, maxDelayMs: 5 } }),
          {},
        );
        const error = await expectProviderError(provider.allUsers("students"));
        expect(error.code).toBe("PROVIDER_HTTP");
        expect(error.retriable).toBe(true);
        expect(error.status).toBe(502);
        expect(error.message).toMatch(/HTTP 502 .* gave up after 3 attempts/);
        expect(server.requests).toHaveLength(3);
        await provider.close();
      },
    );
  });

  it("does not retry a 400", async () => {
    await withServer(
      (_req, res) => sendJson(res, { imsx_description: "bad filter" }, {}, 400),
      async (server) => {
        const provider = createProvider(providerConfig(server.url), {});
        const error = await expectProviderError(provider.allUsers("students"));
        expect(error.code).toBe("PROVIDER_HTTP");
        expect(error.retriable).toBe(false);
        expect(error.status).toBe(400);
        expect(server.requests).toHaveLength(1);
        expect(provider.stats.retries).toBe(0);
        await provider.close();
      },
    );
  });
});

describe("auth", () => {
  it("maps a 401 to PROVIDER_AUTH without leaking the secret or the signature", async () => {
    await withServer(
      (_req, res) => sendJson(res, { error: "unauthorized" }, {}, 401),
      async (server) => {
        const config = providerConfig(server.url, {
          auth: { method: "oauth1", clientId: "cid", clientSecret: SECRET },
        });
        const provider = createProvider(config, {});
        const error = await expectProviderError(provider.check());
        expect(error.code).toBe("PROVIDER_AUTH");
        expect(error.message).toBe(
          `provider district rejected the credentials (HTTP 401) at ${server.url}${BASE_PATH}orgs?limit=1&offset=0`,
        );
        const everything = JSON.stringify({ ...error, message: error.message, stack: error.stack });
        expect(everything).not.toMatch(/super-secret|oauth_signature|OAuth /);
        expect(server.requests).toHaveLength(1);
        await provider.close();
      },
    );
  });

  it("signs every OAuth1 attempt afresh, verifiable with the secret", async () => {
    const nonces: string[] = [];
    let calls = 0;
    await withServer(
      (req, res, url) => {
        calls += 1;
        const { valid, nonce } = verifyOAuth1(req, SECRET);
        if (!valid) {
          sendJson(res, { error: "bad signature" }, {}, 401);
          return;
        }
        nonces.push(nonce!);
        if (calls === 1) {
          sendJson(res, { error: "busy" }, {}, 503);
          return;
        }
        offsetPage(url, res, "users", users(12), { cap: 5, total: 12 });
      },
      async (server) => {
        const config = {
          ...providerConfig(server.url, {
            auth: { method: "oauth1", clientId: "cid", clientSecret: SECRET },
          }),
          type: "classlink" as const,
        };
        const provider = createProvider(config, {});
        const got = await provider.groupMembers({ type: "schools", sourcedId: "s 1/2" }, "teachers");
        expect(got).toHaveLength(12);
        expect(got[0]!.role).toBe("student");
        expect(server.requests[0]).toBe(`${BASE_PATH}schools/s%201%2F2/teachers?limit=10&offset=0`);
        expect(nonces).toHaveLength(4);
        expect(new Set(nonces).size).toBe(4);
        await provider.close();
      },
    );
  });

  it("caches the OAuth2 token, shares one fetch, and refreshes once on 401", async () => {
    const valid = new Set<string>();
    const tokenRequests: { authorization: string | undefined; body: string }[] = [];
    let issued = 0;
    let rejectAll = false;
    await withServer(
      async (req, res, url) => {
        if (url.pathname === "/oauth/token") {
          tokenRequests.push({ authorization: req.headers.authorization, body: await readBody(req) });
          issued += 1;
          const token = `tok-${issued}`;
          valid.add(token);
          // Slow enough that concurrent callers overlap with the fetch.
          setTimeout(
            () => sendJson(res, { access_token: token, token_type: "bearer", expires_in: 3600 }),
            20,
          );
          return;
        }
        const token = req.headers.authorization?.replace(/^Bearer /, "") ?? "";
        if (rejectAll || !valid.has(token)) {
          sendJson(res, { error: "invalid token" }, {}, 401);
          return;
        }
        offsetPage(url, res, "users", users(3), { total: 3 });
      },
      async (server) => {
        const config = providerConfig(server.url, {
          auth: { method: "oauth2", clientId: "cid", clientSecret: SECRET, scope: "roster-core.readonly" },
        });
        const provider = createProvider(config, {});
        const groups = ["a", "b", "c", "d", "e"].map((id) => ({ type: "classes" as const, sourcedId: id }));
        await Promise.all(groups.map((g) => provider.groupMembers(g, "users")));
        await provider.allUsers("students");
        expect(tokenRequests).toHaveLength(1);
        expect(tokenRequests[0]!.authorization).toBe(
          `Basic ${Buffer.from(`cid:${SECRET}`).toString("base64")}`,
        );
        expect(new URLSearchParams(tokenRequests[0]!.body).get("grant_type")).toBe("client_credentials");
        expect(new URLSearchParams(tokenRequests[0]!.body).get("scope")).toBe("roster-core.readonly");

        valid.delete("tok-1"); // revoked: the next request gets a 401 and fetches tok-2
        await Promise.all([provider.allUsers("students"), provider.allUsers("teachers")]);
        expect(tokenRequests).toHaveLength(2);

        rejectAll = true;
        const before = server.requests.length;
        const error = await expectProviderError(provider.allUsers("students"));
        expect(error.code).toBe("PROVIDER_AUTH");
        expect(error.message).not.toMatch(/tok-|super-secret/);
        expect(tokenRequests).toHaveLength(3); // one refresh, then it gives up
        expect(server.requests.length - before).toBe(3); // request, token, request
        await provider.close();
      },
    );
  });
});

describe("limits", () => {
  it("never has more requests in flight than rateLimit.concurrency", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await withServer(
      (_req, res, url) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        setTimeout(() => {
          inFlight -= 1;
          offsetPage(url, res, "users", users(4), { total: 4 });
        }, 15);
      },
      async (server) => {
        const config = providerConfig(server.url, { rateLimit: { requestsPerSecond: 1000, concurrency: 3 } });
        const provider = createProvider(config, {});
        const groups = Array.from({ length: 12 }, (_, i) => ({
          type: "classes" as const,
          sourcedId: `c${i}`,
        }));
        const lists = await Promise.all(groups.map((g) => provider.groupMembers(g, "users")));
        expect(lists.every((l) => l.length === 8)).toBe(true);
        expect(maxInFlight).toBeLessThanOrEqual(3);
        expect(maxInFlight).toBeGreaterThanOrEqual(2);
        await provider.close();
      },
    );
  });

  it("keeps to requestsPerSecond after the initial burst", async () => {
    const times: number[] = [];
    await withServer(
      (_req, res) => {
        times.push(performance.now());
        sendJson(res, { orgs: [{ sourcedId: "o1" }] });
      },
      async (server) => {
        const config = providerConfig(server.url, { rateLimit: { requestsPerSecond: 20, concurrency: 8 } });
        const provider = createProvider(config, {});
        await Promise.all(Array.from({ length: 40 }, () => provider.check()));
        const first = times[0]!;
        // Burst of 20, then 20 more at 20/s: about a second. Generous bounds, no exact timing.
        expect(times.at(-1)! - first).toBeGreaterThanOrEqual(700);
        expect(times.filter((t) => t - first < 250).length).toBeLessThanOrEqual(20 + 5 + 3);
        await provider.close();
      },
    );
  });
});

describe("providers", () => {
  it("builds the Clever connector for type clever (tested in clever.test.ts)", async () => {
    const config = providerConfig("http://127.0.0.1:9", {
      type: "clever",
      auth: { method: "bearer", token: "t" },
    });
    const provider = createProvider(config, {});
    expect(provider.constructor.name).toBe("CleverConnector");
    await provider.close();
  });

  it("normalises 1.1 and 1.2 user records", () => {
    expect(
      normaliseUser({
        sourcedId: "18125",
        role: "Student",
        enabledUser: "false",
        status: "Active",
        grades: "11, 12",
        orgs: [{ sourcedId: "2" }, "3"],
        username: " billy.flores ",
        email: "",
      }),
    ).toMatchObject({
      role: "student",
      enabledUser: false,
      status: "active",
      grades: ["11", "12"],
      orgs: ["2", "3"],
      username: "billy.flores",
      email: undefined,
      givenName: undefined,
    });
    expect(
      normaliseUser({
        sourcedId: "t1",
        enabledUser: true,
        roles: [
          { roleType: "secondary", role: "aide" },
          { roleType: "primary", role: "teacher" },
        ],
        grades: ["06"],
      }),
    ).toMatchObject({ role: "teacher", enabledUser: true, grades: ["06"], orgs: [], status: undefined });
    expect(normaliseUser({ sourcedId: "x" }, "student").role).toBe("student");
  });
});
