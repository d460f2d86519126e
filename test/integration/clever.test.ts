// The Clever connector against the sandbox's Clever-shaped API on 127.0.0.1 (SPEC §3–4): paging by
// links rel next, members of sections, schools, courses and the whole district — each equal to what
// the OneRoster 1.1 connector resolves from the same District — bearer auth, 429s and
// X-RateLimit-Remaining: 0, and the `limit` ceiling.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { ConfigError } from "../../src/errors.js";
import { createProvider } from "../../src/providers/index.js";
import type { Provider } from "../../src/providers/types.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import type { Member } from "../../src/domain.js";
import { providerError, resolvedMembers, type Selection } from "../helpers/resolve.js";

const FAST_RETRY = { limit: 6, baseDelayMs: 5, maxDelayMs: 5_000 };

function cleverConfig(sandbox: Sandbox, overrides: Record<string, unknown> = {}): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "clever",
    baseUrl: sandbox.cleverUrl,
    auth: { method: "bearer", token: sandbox.cleverToken },
    pageSize: 25,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: FAST_RETRY,
    timeoutMs: 5000,
    ...overrides,
  });
  return { ...parsed, name: "clever" };
}

function oneRosterConfig(sandbox: Sandbox): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    baseUrl: sandbox.url,
    auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    pageSize: 100,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: FAST_RETRY,
    timeoutMs: 5000,
  });
  return { ...parsed, name: "oneroster" };
}

describe("Clever and OneRoster 1.1 views of one district", () => {
  let sandbox: Sandbox;
  let clever: Provider;
  let oneRoster: Provider;
  // The sandbox serves at most 20 records a page: every page is shorter than the 25 asked for.
  const CAP = 20;

  beforeAll(async () => {
    sandbox = await startSandbox({
      seed: 11,
      schools: 3,
      studentsPerSchool: 60,
      clever: { maxPageSize: CAP },
    });
    clever = createProvider(cleverConfig(sandbox));
    oneRoster = createProvider(oneRosterConfig(sandbox));
  });
  afterAll(async () => {
    await clever?.close();
    await oneRoster?.close();
    await sandbox?.close();
  });

  const same = async (selection: Selection): Promise<Member[]> => {
    const expected = await resolvedMembers(oneRoster, oneRosterConfig(sandbox), selection);
    const got = await resolvedMembers(clever, cleverConfig(sandbox), selection);
    expect(expected.length).toBeGreaterThan(0);
    expect(got).toEqual(expected);
    return got;
  };

  it("all students: paged past several short pages by links rel next, same members", async () => {
    sandbox.resetStats();
    const progress = { pages: 0, records: 0 };
    const got = await resolvedMembers(clever, cleverConfig(sandbox), { users: "students" }, (p) => {
      progress.pages += p.pages;
      progress.records += p.records;
    });
    const expected = await resolvedMembers(oneRoster, oneRosterConfig(sandbox), { users: "students" });
    expect(got).toEqual(expected);

    // Clever serves only active users; the District has tobedeleted and disabled students, which
    // neither connector's members include.
    const district = sandbox.district;
    const students = district.usersWithRole("student");
    const visible = students.filter(active);
    expect(visible.length).toBeLessThan(students.length);
    expect(got.map((m) => m.sourcedId).sort()).toEqual(visible.map((u) => u.sourcedId).sort());
    expect(progress.records).toBe(visible.length);
    expect(progress.pages).toBe(Math.ceil(visible.length / CAP));
    expect(sandbox.stats().byRoute["v3.0/users"]).toBe(Math.ceil(visible.length / CAP));
    expect(got.find((m) => m.grades.includes("KG"))).toBeDefined();
  });

  it("all teachers and the whole directory", async () => {
    await same({ users: "teachers" });
    const everyone = await same({ users: "users" });
    expect(new Set(everyone.map((m) => m.role))).toEqual(new Set(["student", "teacher", "administrator"]));
  });

  it("a section title shared by twin sections, on title (as OneRoster's classes)", async () => {
    const got = await same({
      users: "students",
      groups: [{ type: "classes", match: "ELA 6 (6A ELA)", matchOn: ["title"] }],
    });
    const twins = sandbox.district.classes.filter((c) => c.title === "ELA 6 (6A ELA)");
    expect(twins.length).toBe(2);
    // Students in both twins count once.
    expect(new Set(got.map((m) => m.key)).size).toBe(got.length);
  });

  it("a section by sourcedId with the default matchGroupsBy, teachers", async () => {
    const cls = sandbox.district.classes[5]!;
    await same({ users: "teachers", groups: [{ type: "classes", match: cls.sourcedId }] });
  });

  it("a school by name: students, and teachers (one of them works at two schools)", async () => {
    const school = sandbox.district.schools()[1]!;
    await same({ users: "students", groups: [{ type: "schools", match: school.name }] });
    const teachers = await same({ users: "teachers", groups: [{ type: "schools", match: school.name }] });
    expect(teachers.some((t) => t.orgs.length === 2)).toBe(true);
  });

  it("a course's sections, by course title", async () => {
    const sections = (id: string): number => sandbox.district.courseClasses(id).length;
    const course = [...sandbox.district.courses].sort(
      (a, b) => sections(b.sourcedId) - sections(a.sourcedId),
    )[0]!;
    expect(sections(course.sourcedId)).toBeGreaterThan(1);
    await same({ users: "students", groups: [{ type: "courses", match: course.title, matchOn: ["title"] }] });
    await same({ users: "teachers", groups: [{ type: "courses", match: course.sourcedId }] });
  });

  it("no matching section is an error, never an empty roster", async () => {
    await expect(
      resolvedMembers(clever, cleverConfig(sandbox), {
        users: "students",
        groups: [{ type: "classes", match: "No Such Class" }],
      }),
    ).rejects.toThrow(/no group matched classes "No Such Class"/);
  });

  it("survives random 429s, with the same members", async () => {
    const expected = await resolvedMembers(oneRoster, oneRosterConfig(sandbox), { users: "students" });
    const provider = createProvider(cleverConfig(sandbox));
    sandbox.setFaults({ fail429Rate: 0.3, retryAfterSeconds: 0 });
    try {
      expect(await resolvedMembers(provider, cleverConfig(sandbox), { users: "students" })).toEqual(expected);
      expect(provider.stats.status429).toBeGreaterThan(0);
    } finally {
      sandbox.setFaults({});
      await provider.close();
    }
  });

  it("a wrong token is PROVIDER_AUTH, and the token appears nowhere in the error", async () => {
    const token = "wrong-token-3f9c1a";
    const provider = createProvider(cleverConfig(sandbox, { auth: { method: "bearer", token } }));
    try {
      const error = await providerError(provider.check());
      expect(error.code).toBe("PROVIDER_AUTH");
      expect(error.status).toBe(401);
      expect(error.url).toBe(`${sandbox.cleverUrl}v3.0/schools?limit=1`);
      expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(token);
      expect((await providerError(provider.allUsers("students"))).code).toBe("PROVIDER_AUTH");
    } finally {
      await provider.close();
    }
    await expect(clever.check()).resolves.toBeUndefined();
  });

  it("answers a limit over 10000 with 413, and config rejects such a pageSize", async () => {
    const res = await fetch(`${sandbox.cleverUrl}v3.0/users?limit=10001`, {
      headers: { authorization: `Bearer ${sandbox.cleverToken}` },
    });
    expect(res.status).toBe(413);
    await res.body?.cancel();

    const yaml = (pageSize: number) => `
providers:
  clever:
    type: clever
    auth: { method: bearer, token: t }
    pageSize: ${pageSize}
mappings:
  - { name: m, provider: clever, users: students, product: p }
`;
    expect(() => parseConfig(yaml(10001), "sync.config.yaml", {})).toThrow(ConfigError);
    try {
      parseConfig(yaml(10001), "sync.config.yaml", {});
    } catch (error) {
      expect((error as ConfigError).keyPath).toBe("providers.clever.pageSize");
      expect((error as ConfigError).message).toMatch(/pageSize: must be at most 10000/);
    }
    // baseUrl is optional for clever (https://api.clever.com/ by default).
    const config = parseConfig(yaml(10000), "sync.config.yaml", {});
    expect(config.providers.clever!.baseUrl).toBeUndefined();
    expect(config.providers.clever!.pageSize).toBe(10000);
  });
});

const active = (u: { status: string; enabledUser: string }): boolean =>
  u.status === "active" && u.enabledUser === "true";

describe("X-RateLimit-Remaining: 0", () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    // 4 requests per token per 1-second window; 40 students are 9 pages of 5.
    sandbox = await startSandbox({
      seed: 3,
      schools: 1,
      studentsPerSchool: 40,
      dirtyRate: 0,
      clever: { requestsPerWindow: 4, windowMs: 1000 },
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it("waits for X-RateLimit-Reset before the next request instead of spending a 429", async () => {
    const provider = createProvider(
      cleverConfig(sandbox, { pageSize: 5, rateLimit: { requestsPerSecond: 1000, concurrency: 1 } }),
    );
    try {
      const students = await provider.allUsers("students");
      const expected = sandbox.district.usersWithRole("student").filter(active);
      expect(students.map((u) => u.sourcedId).sort()).toEqual(expected.map((u) => u.sourcedId).sort());
      expect(sandbox.stats().status429).toBe(0);
      expect(provider.stats).toMatchObject({ requests: Math.ceil(expected.length / 5), status429: 0 });
    } finally {
      await provider.close();
    }
  });

  it("survives 429s of a spent window (requests in flight, another client on the token)", async () => {
    const provider = createProvider(cleverConfig(sandbox, { pageSize: 5 }));
    try {
      // Spend the window from outside the connector, so that its first request meets a 429 that
      // only X-RateLimit-Reset explains (no Retry-After). Two windows' worth at most: bounded.
      let resetAt: number | undefined;
      for (let i = 0; i < 9 && resetAt === undefined; i += 1) {
        const res = await fetch(`${sandbox.cleverUrl}v3.0/schools`, {
          headers: { authorization: `Bearer ${sandbox.cleverToken}` },
        });
        await res.body?.cancel();
        if (res.status === 429) {
          expect(res.headers.get("retry-after")).toBeNull();
          expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
          resetAt = Number(res.headers.get("x-ratelimit-reset")) * 1000;
        }
      }
      expect(resetAt).toBeDefined();
      const windowStillSpent = Date.now() < resetAt! - 100;
      const school = sandbox.district.schools()[0]!;
      // Two role fetches at once (concurrency 4): requests in flight overrun the window too.
      const users = await provider.groupMembers({ type: "schools", sourcedId: school.sourcedId }, "users");
      const expected = sandbox.district.users.filter((u) => u.role !== "administrator" && active(u));
      expect(users.map((u) => u.sourcedId).sort()).toEqual(expected.map((u) => u.sourcedId).sort());
      if (windowStillSpent) {
        // Not asserted when the window happened to end between the loop and the fetch.
        expect(provider.stats.status429).toBeGreaterThan(0);
      }
    } finally {
      await provider.close();
    }
  });
});
