// Clever paging (links rel next, starting_after), envelope checks and the X-RateLimit pause, against an
// in-memory page source: no network.
import { describe, expect, it } from "vitest";
import { ProviderError } from "../../src/errors.js";
import { versionPath } from "../../src/providers/clever/connector.js";
import { fetchAll, type PageSource } from "../../src/providers/clever/paging.js";
import { RateLimitGate, rateLimitPause } from "../../src/providers/clever/rate-limit.js";
import { resolveUrl, type JsonResponse, type SearchParams } from "../../src/providers/http.js";

const BASE = "https://api.clever.test/";

type Answer = (url: URL) => { body: unknown; headers?: Record<string, string> };

/** A page source answering from `answer`, recording every absolute URL asked for. */
function source(answer: Answer): PageSource & { urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    async getJson(urlOrPath: string, params?: SearchParams): Promise<JsonResponse> {
      const url = resolveUrl(BASE, urlOrPath, params);
      urls.push(url.toString().slice(BASE.length - 1));
      const { body, headers = {} } = answer(url);
      return { body, headers, url: url.toString(), status: 200 };
    },
  };
}

const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `u${String(i + 1).padStart(3, "0")}` }));
const envelope = (page: { id: string }[], links?: { rel: string; uri: string }[]) => ({
  data: page.map((data) => ({ data, uri: `/v3.0/users/${data.id}` })),
  ...(links ? { links } : {}),
});

/** Clever-like paging: at most `cap` a page, next link with only `starting_after` (as Clever's docs show). */
function cleverPages(all: { id: string }[], cap: number): Answer {
  return (url) => {
    const after = url.searchParams.get("starting_after");
    const start = after ? all.findIndex((r) => r.id === after) + 1 : 0;
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 100), cap);
    const page = all.slice(start, start + limit);
    const more = start + page.length < all.length;
    return {
      body: envelope(page, [
        { rel: "self", uri: `${url.pathname}${url.search}` },
        ...(more ? [{ rel: "next", uri: `/v3.0/users?starting_after=${page[page.length - 1]!.id}` }] : []),
      ]),
    };
  };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe("fetchAll", () => {
  it("follows next past short pages, keeping limit and role the link dropped", async () => {
    const src = source(cleverPages(records(23), 7));
    const progress: number[] = [];
    const got = await fetchAll(src, {
      providerName: "clever",
      path: "v3.0/users",
      params: { role: "student" },
      pageSize: 10,
      onProgress: (p) => progress.push(p.records),
    });
    expect(got.map((r) => r.id)).toEqual(records(23).map((r) => r.id));
    expect(src.urls).toEqual([
      "/v3.0/users?role=student&limit=10",
      "/v3.0/users?starting_after=u007&role=student&limit=10",
      "/v3.0/users?starting_after=u014&role=student&limit=10",
      "/v3.0/users?starting_after=u021&role=student&limit=10",
    ]);
    expect(progress).toEqual([7, 7, 7, 2]);
  });

  it("pages by starting_after itself when the server sends no links, until an empty page", async () => {
    const all = records(5);
    const src = source((url) => {
      const after = url.searchParams.get("starting_after");
      const start = after ? all.findIndex((r) => r.id === after) + 1 : 0;
      return { body: envelope(all.slice(start, start + 2)) };
    });
    const got = await fetchAll(src, { providerName: "clever", path: "v3.0/sections", pageSize: 2 });
    expect(got).toHaveLength(5);
    expect(src.urls.at(-1)).toBe("/v3.0/sections?limit=2&starting_after=u005");
    expect(src.urls).toHaveLength(4);
  });

  it.each([
    [
      "no data array",
      { links: [] },
      /no "data" array \(keys: links\) at https:\/\/api\.clever\.test\/v3\.0\/users/,
    ],
    ["data not an array", { data: {} }, /"data" is not an array/],
    ["an array body", [], /expected a JSON object with "data", got an array/],
    ["an entry without data", { data: [{ uri: "/x" }] }, /data\[0\] has no "data" object/],
    [
      "a record without id",
      { data: [{ data: { id: "u1" } }, { data: { name: "x" } }] },
      /data\[1\] has no id/,
    ],
    ["an empty id", { data: [{ data: { id: " " } }] }, /data\[0\] has no id/],
  ])("fails on %s with PROVIDER_RESPONSE and the URL", async (_what, body, message) => {
    const error = await failure(
      fetchAll(
        source(() => ({ body })),
        { providerName: "clever", path: "v3.0/users", pageSize: 5 },
      ),
    );
    expect(error.code).toBe("PROVIDER_RESPONSE");
    expect(error.message).toMatch(message);
    expect(error.url).toBe("https://api.clever.test/v3.0/users?limit=5");
  });

  it("never follows a next link to another origin", async () => {
    const src = source(() => ({
      body: envelope(records(2), [{ rel: "next", uri: "https://evil.test/v3.0/users?starting_after=u002" }]),
    }));
    const error = await failure(fetchAll(src, { providerName: "clever", path: "v3.0/users", pageSize: 2 }));
    expect(error.message).toMatch(/another origin \(https:\/\/evil\.test\)/);
    expect(src.urls).toHaveLength(1);
  });

  it("stops with an error on a repeated next link or a page of records already fetched", async () => {
    const same = source(() => ({
      body: envelope(records(2), [{ rel: "next", uri: "/v3.0/users?starting_after=u002" }]),
    }));
    const error = await failure(fetchAll(same, { providerName: "clever", path: "v3.0/users", pageSize: 2 }));
    expect(error.message).toMatch(/repeated records already fetched/);
    expect(same.urls).toHaveLength(2);

    let n = 0;
    const looping = source(() => {
      n += 1;
      const page = records(2 * n).slice(-2);
      return { body: envelope(page, [{ rel: "next", uri: "/v3.0/users?starting_after=same" }]) };
    });
    const loop = await failure(
      fetchAll(looping, { providerName: "clever", path: "v3.0/users", pageSize: 2 }),
    );
    expect(loop.message).toMatch(/links rel "next" repeated a page/);
  });

  it("fails when a page repeats some records of an earlier page (the cursor is not stable)", async () => {
    const all = records(30);
    // Each page starts 3 records before the cursor: an order that shifted under the walk.
    const shifting = source((url) => {
      const after = url.searchParams.get("starting_after");
      const start = after ? Math.max(0, all.findIndex((r) => r.id === after) + 1 - 3) : 0;
      const page = all.slice(start, start + 10);
      const more = start + page.length < all.length;
      return {
        body: envelope(
          page,
          more ? [{ rel: "next", uri: `/v3.0/users?starting_after=${page.at(-1)!.id}` }] : [],
        ),
      };
    });
    const error = await failure(
      fetchAll(shifting, { providerName: "clever", path: "v3.0/users", pageSize: 10 }),
    );
    expect(error.code).toBe("INCOMPLETE_FETCH");
    expect(error.message).toMatch(
      /page 2 of v3.0\/users repeated 3 record\(s\) of earlier pages \(17 unique of 20 received, e.g. u008\)/,
    );
  });

  it("caps the records fetched", async () => {
    const src = source(cleverPages(records(50), 10));
    const error = await failure(
      fetchAll(src, { providerName: "clever", path: "v3.0/users", pageSize: 10, maxRecords: 25 }),
    );
    expect(error.code).toBe("INCOMPLETE_FETCH");
  });
});

describe("rateLimitPause", () => {
  const now = 1_800_000_000_000;
  it.each([
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000030" }, 30_000],
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000090" }, 60_000],
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "5" }, 5_000],
    [{ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1799999990" }, 0],
    [{ "x-ratelimit-remaining": "1", "x-ratelimit-reset": "1800000030" }, undefined],
    [{ "x-ratelimit-remaining": "0" }, undefined],
    [{ "x-ratelimit-reset": "1800000030" }, undefined],
    [{ "x-ratelimit-remaining": "zero", "x-ratelimit-reset": "1800000030" }, undefined],
  ])("%j → %j ms (cap 60 s)", (headers, expected) => {
    expect(rateLimitPause(headers, now, 60_000)).toBe(expected);
  });

  it("the gate holds requests until the reset, then lets them go", async () => {
    let clock = 1_800_000_000_000;
    const slept: number[] = [];
    const gate = new RateLimitGate({
      providerName: "clever",
      maxWaitMs: 60_000,
      now: () => clock,
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
    });
    await gate.wait();
    expect(slept).toEqual([]);
    gate.observe({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000002" });
    await gate.wait();
    expect(slept).toEqual([2_000]);
    await gate.wait();
    expect(slept).toEqual([2_000]);
    gate.observe({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000010" });
    gate.close();
    await expect(gate.wait()).rejects.toThrow(/provider clever is closed/);
  });
});

describe("versionPath", () => {
  it.each([
    ["https://api.clever.com/", "v3.0/"],
    ["https://api.clever.com", "v3.0/"],
    ["http://127.0.0.1:8299/", "v3.0/"],
    ["https://api.clever.com/v3.0/", ""],
    ["https://api.clever.com/v3.1", ""],
    ["https://proxy.example/clever/", "v3.0/"],
  ])("%s → %j", (baseUrl, expected) => {
    expect(versionPath(baseUrl)).toBe(expected);
  });
});
