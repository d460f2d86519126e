// The sandbox OneRoster 1.1 server over real HTTP on 127.0.0.1: paging (Link, X-Total-Count, the
// page-size cap), envelopes, filters, OAuth 1 verification (signature, replay, skew), OAuth 2 tokens,
// faults, mutations and the admin API, and a close() that leaves nothing behind.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../../src/providers/oneroster/auth/oauth1.js";
import { startSandbox } from "../../src/sandbox/index.js";
import type { MutationResult, Sandbox } from "../../src/sandbox/index.js";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** One request on a fresh connection (no keep-alive pool to outlive the test). */
function request(
  url: string | URL,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

function signedGet(sandbox: Sandbox, pathOrUrl: string, secret = sandbox.clientSecret): Promise<Reply> {
  const url = new URL(pathOrUrl, sandbox.url);
  const authorization = signRequest("GET", url, { clientId: sandbox.clientId, clientSecret: secret });
  return request(url, { headers: { Authorization: authorization } });
}

function admin(sandbox: Sandbox, method: string, path: string, body?: unknown): Promise<Reply> {
  return request(new URL(path, sandbox.adminUrl), {
    method,
    headers: { "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function nextLink(reply: Reply): string | undefined {
  const link = [reply.headers.link ?? []].flat().join(", ");
  return link ? /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
}

async function fetchAll(
  sandbox: Sandbox,
  path: string,
  key: string,
): Promise<{ records: { sourcedId: string }[]; pages: Reply[] }> {
  const records: { sourcedId: string }[] = [];
  const pages: Reply[] = [];
  let next: string | undefined = path;
  while (next) {
    const reply = await signedGet(sandbox, next);
    expect(reply.status).toBe(200);
    pages.push(reply);
    records.push(...(reply.json()[key] as { sourcedId: string }[]));
    next = nextLink(reply);
  }
  return { records, pages };
}

describe("sandbox server (oauth1)", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 4, schools: 2, studentsPerSchool: 60, maxPageSize: 25 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("pages every record exactly once by following Link rel=next", async () => {
    const { records, pages } = await fetchAll(sandbox, "users?limit=20", "users");
    const total = sandbox.district.users.length;
    expect(pages.every((p) => Number(p.headers["x-total-count"]) === total)).toBe(true);
    expect(records).toHaveLength(total);
    expect(new Set(records.map((r) => r.sourcedId)).size).toBe(total);
    expect(pages.length).toBe(Math.ceil(total / 20));
    expect(pages.at(-1)!.headers.link).not.toContain('rel="next"');
    expect(pages[0]!.headers.link).toContain('rel="last"');
  });

  it("caps limit at maxPageSize", async () => {
    const reply = await signedGet(sandbox, "students?limit=1000");
    expect((reply.json().users as unknown[]).length).toBe(25);
    expect(nextLink(reply)).toMatch(/limit=25&offset=25$/);
    const { records } = await fetchAll(sandbox, "students?limit=1000", "users");
    expect(records).toHaveLength(120);
  });

  it("serves collections, single records and nested endpoints in 1.1 envelopes", async () => {
    const d = sandbox.district;
    const cls = d.classes[0]!;
    const students = await signedGet(sandbox, `classes/${cls.sourcedId}/students`);
    expect((students.json().users as { sourcedId: string }[]).map((u) => u.sourcedId)).toEqual(
      d.classUsers(cls.sourcedId, "student").map((u) => u.sourcedId),
    );
    const teacher = d.classUsers(cls.sourcedId, "teacher")[0]!;
    const one = await signedGet(sandbox, `users/${teacher.sourcedId}`);
    expect(one.json()).toEqual({ user: JSON.parse(JSON.stringify(teacher)) });
    expect((await signedGet(sandbox, `students/${teacher.sourcedId}`)).status).toBe(404);
    expect((await signedGet(sandbox, `teachers/${teacher.sourcedId}`)).status).toBe(200);
    const classOne = await signedGet(sandbox, `classes/${cls.sourcedId}`);
    expect((classOne.json().class as { title: string }).title).toBe(cls.title);

    const orgs = await signedGet(sandbox, "schools");
    expect((orgs.json().orgs as unknown[]).length).toBe(2);
    const schoolTeachers = await signedGet(sandbox, "schools/sch-01/teachers?limit=25");
    expect(Number(schoolTeachers.headers["x-total-count"])).toBe(d.schoolUsers("sch-01", "teacher").length);
    const courseClasses = await signedGet(sandbox, `courses/${cls.course.sourcedId}/classes`);
    expect((courseClasses.json().classes as { sourcedId: string }[]).map((c) => c.sourcedId)).toContain(
      cls.sourcedId,
    );
    const missing = await signedGet(sandbox, "classes/nope/students");
    expect(missing.status).toBe(404);
    expect(missing.json().imsx_codeMajor).toBe("failure");
  });

  it("filters with field='value' and rejects unknown fields", async () => {
    const filter = encodeURIComponent("title='ELA 6 (6A ELA)'");
    const reply = await signedGet(sandbox, `classes?filter=${filter}`);
    const titles = (reply.json().classes as { title: string }[]).map((c) => c.title);
    expect(titles).toEqual(["ELA 6 (6A ELA)", "ELA 6 (6A ELA)"]);
    expect(reply.headers["x-total-count"]).toBe("2");
    const bySchool = await signedGet(
      sandbox,
      `users?filter=${encodeURIComponent("role='teacher' AND orgs='sch-02'")}`,
    );
    expect(Number(bySchool.headers["x-total-count"])).toBe(
      sandbox.district.schoolUsers("sch-02", "teacher").length,
    );
    const bad = await signedGet(sandbox, `classes?filter=${encodeURIComponent("colour='red'")}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json())).toContain("invalid_filter_field");
    expect((await signedGet(sandbox, `classes?filter=${encodeURIComponent("title=ELA")}`)).status).toBe(400);
  });

  it("rejects a bad secret, an unknown key, a missing signature, a replayed nonce and a skewed clock", async () => {
    const bad = await signedGet(sandbox, "orgs", "wrong-secret");
    expect(bad.status).toBe(401);
    expect(bad.json().imsx_codeMajor).toBe("failure");
    expect(bad.headers["www-authenticate"]).toContain("OAuth");

    const url = new URL("orgs", sandbox.url);
    const unknown = signRequest("GET", url, { clientId: "someone-else", clientSecret: sandbox.clientSecret });
    expect((await request(url, { headers: { Authorization: unknown } })).status).toBe(401);
    expect((await request(url)).status).toBe(401);

    const once = signRequest("GET", url, { clientId: sandbox.clientId, clientSecret: sandbox.clientSecret });
    expect((await request(url, { headers: { Authorization: once } })).status).toBe(200);
    const replay = await request(url, { headers: { Authorization: once } });
    expect(replay.status).toBe(401);
    expect(replay.json().imsx_description).toMatch(/nonce/);

    const old = signRequest(
      "GET",
      url,
      { clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
      { nonce: "old-nonce", timestamp: String(Math.floor(Date.now() / 1000) - 11 * 60) },
    );
    const skewed = await request(url, { headers: { Authorization: old } });
    expect(skewed.status).toBe(401);
    expect(skewed.json().imsx_description).toMatch(/timestamp/);
  });

  it("accepts the oauth_* parameters in the query string", async () => {
    const url = new URL("orgs?limit=5", sandbox.url);
    const header = signRequest("GET", url, {
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
    });
    for (const part of header.replace(/^OAuth /, "").split(",")) {
      const [, k, v] = /^([^=]+)="(.*)"$/.exec(part)!;
      url.searchParams.set(decodeURIComponent(k!), decodeURIComponent(v!));
    }
    expect((await request(url)).status).toBe(200);
  });

  it("counts requests in stats and the admin API", async () => {
    sandbox.resetStats();
    await signedGet(sandbox, "classes?limit=5");
    await signedGet(sandbox, `classes/${sandbox.district.classes[1]!.sourcedId}/students`);
    await signedGet(sandbox, "users/x");
    const stats = (await admin(sandbox, "GET", "stats")).json() as unknown as ReturnType<Sandbox["stats"]>;
    expect(stats.apiRequests).toBe(3);
    expect(stats.byRoute).toEqual({ classes: 1, "classes/{id}/students": 1, "users/{id}": 1 });
    expect(stats.byStatus).toEqual({ "200": 2, "404": 1 });
    expect((await admin(sandbox, "POST", "reset-stats")).status).toBe(200);
    expect(sandbox.stats().requests).toBe(0);
    const info = (await admin(sandbox, "GET", "info")).json();
    expect(info.url).toBe(sandbox.url);
    expect(JSON.stringify(info)).not.toContain(sandbox.clientSecret);
    expect((await admin(sandbox, "GET", "nope")).status).toBe(404);
  });
});

describe("sandbox faults", () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 8, schools: 1, studentsPerSchool: 40, auth: "none" });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("adds latency", async () => {
    sandbox.setFaults({ latencyMs: 120 });
    const started = performance.now();
    expect((await request(new URL("orgs", sandbox.url))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    sandbox.setFaults({});
  });

  it("answers 429 with Retry-After above the rate", async () => {
    sandbox.setFaults({ requestsPerSecond: 2, burst: 2 });
    const replies = await Promise.all(Array.from({ length: 6 }, () => request(new URL("orgs", sandbox.url))));
    const limited = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeGreaterThanOrEqual(3);
    expect(Number(limited[0]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.headers["x-ratelimit-reset"]).toBeDefined();
    expect(sandbox.stats().status429).toBeGreaterThanOrEqual(3);
    sandbox.setFaults({});
  });

  it("fails list pages from an offset on (failPaging), persistently", async () => {
    sandbox.setFaults({ failPaging: { afterPages: 2, status: 500 } });
    const page = (offset: number): Promise<Reply> =>
      request(new URL(`students?limit=10&offset=${offset}`, sandbox.url));
    expect((await page(0)).status).toBe(200);
    expect((await page(10)).status).toBe(200);
    expect((await page(20)).status).toBe(500);
    expect((await page(20)).status).toBe(500);
    expect((await page(30)).status).toBe(500);
    // Single records are not pages.
    expect((await request(new URL("orgs/dist-1", sandbox.url))).status).toBe(200);
    sandbox.setFaults({});
    expect((await page(20)).status).toBe(200);
  });

  it("fails after N matching requests, answers 503s and HTML pages by rate", async () => {
    sandbox.setFaults({ failAfterRequests: 2, failPath: "^classes/[^/]+/students$", failStatus: 502 });
    const cls = sandbox.district.classes[0]!.sourcedId;
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await request(new URL(`classes/${cls}/students`, sandbox.url))).status);
    }
    expect(statuses).toEqual([200, 200, 502, 502]);
    expect((await request(new URL("classes", sandbox.url))).status).toBe(200);

    sandbox.setFaults({ fail5xxRate: 1 });
    expect((await request(new URL("orgs", sandbox.url))).status).toBe(503);
    sandbox.setFaults({ fail429Rate: 1, retryAfterSeconds: 3 });
    const busy = await request(new URL("orgs", sandbox.url));
    expect([busy.status, busy.headers["retry-after"]]).toEqual([429, "3"]);
    sandbox.setFaults({ htmlErrorRate: 1 });
    const html = await request(new URL("orgs", sandbox.url));
    expect(html.status).toBe(200);
    expect(html.headers["content-type"]).toContain("text/html");
    expect(html.text).toContain("<html>");
    sandbox.setFaults({});
  });

  it("switches faults through the admin API: POST merges, null clears, DELETE resets", async () => {
    expect((await admin(sandbox, "POST", "faults", { latencyMs: 5, fail5xxRate: 0 })).json()).toEqual({
      latencyMs: 5,
      fail5xxRate: 0,
    });
    expect((await admin(sandbox, "POST", "faults", { fail5xxRate: null })).json()).toEqual({ latencyMs: 5 });
    expect((await admin(sandbox, "PUT", "faults", { htmlErrorRate: 0 })).json()).toEqual({
      htmlErrorRate: 0,
    });
    expect((await admin(sandbox, "DELETE", "faults")).json()).toEqual({});
    expect(sandbox.faults()).toEqual({});
    const bad = await admin(sandbox, "POST", "faults", { explode: true });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("unknown fault");
  });

  it("repeats records of earlier pages (duplicatePages) and under-reports X-Total-Count (lowTotal)", async () => {
    const ids = async (offset: number): Promise<string[]> => {
      const reply = await request(new URL(`students?limit=10&offset=${offset}`, sandbox.url));
      return (reply.json().users as { sourcedId: string }[]).map((u) => u.sourcedId);
    };
    const all = sandbox.district.usersWithRole("student").map((u) => u.sourcedId);
    expect(all).toHaveLength(40);
    sandbox.setFaults({ duplicatePages: { repeat: 3 } });
    // Each page starts 3 records earlier than the one before: 40 received, 31 unique.
    const pages = [await ids(0), await ids(10), await ids(20), await ids(30)];
    expect(pages.map((p) => p[0])).toEqual([all[0], all[7], all[14], all[21]]);
    expect(pages.flat()).toHaveLength(40);
    expect(new Set(pages.flat()).size).toBe(31);

    sandbox.setFaults({ lowTotal: { missing: 15, links: "total" } });
    const low = await request(new URL("students?limit=25&offset=0", sandbox.url));
    expect(low.headers["x-total-count"]).toBe("25");
    expect(low.headers.link).not.toContain('rel="next"');
    expect((await ids(30)).length).toBe(10);
    sandbox.setFaults({ lowTotal: { missing: 15 } });
    const linked = await request(new URL("students?limit=25&offset=0", sandbox.url));
    expect([linked.headers["x-total-count"], linked.headers.link]).toEqual([
      "25",
      expect.stringContaining('rel="next"'),
    ]);
    const bad = await admin(sandbox, "POST", "faults", { lowTotal: { missing: "many" } });
    expect([bad.status, bad.text]).toEqual([400, expect.stringContaining("lowTotal must be")]);
    sandbox.setFaults({});
  });

  it("switches strict modes through the admin API", async () => {
    const cls = sandbox.district.classes[0]!.sourcedId;
    const get = (path: string): Promise<Reply> => request(new URL(path, sandbox.url));
    expect((await admin(sandbox, "GET", "modes")).json()).toEqual({});
    expect((await admin(sandbox, "POST", "modes", { topLevelOnly: true })).json()).toEqual({
      topLevelOnly: true,
    });
    expect((await get(`classes/${cls}/students`)).status).toBe(404);
    expect((await get(`classes/${cls}`)).status).toBe(404);
    expect((await get("classes")).status).toBe(200);
    expect((await admin(sandbox, "POST", "modes", { topLevelOnly: false, minimal: true })).json()).toEqual({
      topLevelOnly: false,
      minimal: true,
    });
    expect((await get(`classes/${cls}/students`)).status).toBe(404);
    const single = await get(`classes/${cls}`);
    expect(Object.keys(single.json().class as object).sort()).toEqual(
      ["classType", "course", "dateLastModified", "school", "sourcedId", "status", "terms", "title"].sort(),
    );
    const page = await get("students?limit=100&filter=sourcedId%3D'nobody'");
    expect([page.headers["x-total-count"], page.headers.link]).toEqual([undefined, undefined]);
    expect((page.json().users as unknown[]).length).toBe(7);
    const bad = await admin(sandbox, "POST", "modes", { gentle: true });
    expect([bad.status, bad.text]).toEqual([400, expect.stringContaining("unknown mode")]);
    await admin(sandbox, "POST", "modes", { minimal: false });
    expect((await get(`classes/${cls}/students`)).status).toBe(200);
  });

  it("applies mutations visible on the API", async () => {
    const d = sandbox.district;
    const target = d.classes.find((c) => c.title === "ELA 6 (6A ELA)")!;
    const reply = await admin(sandbox, "POST", "mutate", {
      kind: "churn",
      seed: 7,
      adds: 2,
      removes: 2,
      updates: 1,
      classSourcedId: target.sourcedId,
      removeMode: "mixed",
    });
    expect(reply.status).toBe(200);
    const result = reply.json() as unknown as MutationResult;
    expect(result.added).toHaveLength(2);
    expect(result.removed).toHaveLength(2);
    expect(result.updated).toHaveLength(1);

    const members = (
      await request(new URL(`classes/${target.sourcedId}/students?limit=500`, sandbox.url))
    ).json().users as { sourcedId: string; status: string; familyName: string; email: string }[];
    const byId = new Map(members.map((m) => [m.sourcedId, m]));
    for (const a of result.added) {
      expect(byId.has(a.sourcedId)).toBe(true);
    }
    const [gone, unenrolled] = result.removed;
    expect(gone!.how).toBe("tobedeleted");
    expect(byId.get(gone!.sourcedId)?.status).toBe("tobedeleted");
    expect(unenrolled!.how).toBe("unenrolled");
    expect(byId.has(unenrolled!.sourcedId)).toBe(false);
    const updated = result.updated[0]!;
    const [field, change] = Object.entries(updated.changes)[0]!;
    expect((byId.get(updated.sourcedId) as Record<string, unknown> | undefined)?.[field]).toBe(change.to);

    const wiped = await admin(sandbox, "POST", "mutate", {
      kind: "wipe-class",
      classSourcedId: target.sourcedId,
    });
    expect(wiped.status).toBe(200);
    const empty = await request(new URL(`classes/${target.sourcedId}/students`, sandbox.url));
    expect(empty.headers["x-total-count"]).toBe("0");

    const badChange = await admin(sandbox, "POST", "mutate", {
      kind: "set-user",
      sourcedId: "nobody",
      fields: {},
    });
    expect(badChange.status).toBe(400);
    expect((await admin(sandbox, "POST", "mutate", "not json{")).status).toBe(400);
  });
});

describe("sandbox oauth2", () => {
  it("issues client-credentials tokens and accepts only live ones", async () => {
    const sandbox = await startSandbox({
      seed: 1,
      schools: 1,
      studentsPerSchool: 10,
      auth: "oauth2",
      tokenTtlSeconds: 60,
    });
    try {
      const basic = Buffer.from(`${sandbox.clientId}:${sandbox.clientSecret}`).toString("base64");
      const token = await request(sandbox.tokenUrl, {
        method: "POST",
        headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
      });
      expect(token.status).toBe(200);
      const body = token.json();
      expect(body.token_type).toBe("bearer");
      expect(body.expires_in).toBe(60);
      const api = (t: string): Promise<Reply> =>
        request(new URL("orgs", sandbox.url), { headers: { Authorization: `Bearer ${t}` } });
      expect((await api(String(body.access_token))).status).toBe(200);
      expect((await api("made-up")).status).toBe(401);
      expect(sandbox.revokeTokens()).toBe(1);
      expect((await api(String(body.access_token))).status).toBe(401);

      const wrong = Buffer.from(`${sandbox.clientId}:nope`).toString("base64");
      const denied = await request(sandbox.tokenUrl, {
        method: "POST",
        headers: { Authorization: `Basic ${wrong}` },
        body: "grant_type=client_credentials",
      });
      expect(denied.status).toBe(401);
      expect(denied.json().error).toBe("invalid_client");
    } finally {
      await sandbox.close();
    }
  });
});

describe("sandbox close", () => {
  it("closes open and slow connections and leaves no server or socket handle", async () => {
    const count = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap" || r === "TCPSocketWrap").length;
    const before = count();
    const sandbox = await startSandbox({
      schools: 1,
      studentsPerSchool: 10,
      auth: "none",
      latencyMs: 10_000,
    });
    const slow = request(new URL("orgs", sandbox.url)).then(
      () => "answered",
      () => "aborted",
    );
    await expect.poll(() => sandbox.stats().apiRequests).toBe(1);
    const started = performance.now();
    await sandbox.close();
    expect(await slow).toBe("aborted");
    expect(performance.now() - started).toBeLessThan(2000);
    await expect.poll(count).toBeLessThanOrEqual(before);
  });
});
