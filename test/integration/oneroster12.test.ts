// The OneRoster connector speaking 1.2 against the sandbox's 1.2 dialect on 127.0.0.1 (SPEC §3–4):
// members equal to what the 1.1 connector resolves from the same sandbox, with OAuth 2 (scope,
// cached token, one refresh on 401, a wrong secret), and the top-level fallback for servers
// without nested endpoints (tried once, remembered) and without `filter` (400 → listed once).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { createGotInstance } from "../../src/providers/http.js";
import { createProvider } from "../../src/providers/index.js";
import { OAuth2TokenSource } from "../../src/providers/oneroster/auth/oauth2.js";
import type { OneRosterConnector } from "../../src/providers/oneroster/connector.js";
import type { Provider } from "../../src/providers/types.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import { providerError, resolvedMembers, type Selection } from "../helpers/resolve.js";
import { sendJson, withServer } from "../helpers/with-server.js";

const FAST_RETRY = { limit: 6, baseDelayMs: 5, maxDelayMs: 5_000 };
const SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";

function v12Config(sandbox: Sandbox, auth: Record<string, unknown> = {}): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    version: "1.2",
    // A bare origin: the schema adds /ims/oneroster/rostering/v1p2/, and the token URL defaults
    // to <origin>/oauth/token, where the sandbox issues tokens.
    baseUrl: sandbox.origin,
    auth: {
      method: "oauth2",
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      scope: SCOPE,
      ...auth,
    },
    pageSize: 50,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: FAST_RETRY,
    timeoutMs: 5000,
  });
  return { ...parsed, name: "or12" };
}

function v11Config(sandbox: Sandbox): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    baseUrl: sandbox.url,
    auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    pageSize: 100,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: FAST_RETRY,
    timeoutMs: 5000,
  });
  return { ...parsed, name: "or11" };
}

const TWINS = "ELA 6 (6A ELA)";

describe("OneRoster 1.2 and 1.1 views of one district", () => {
  let sandbox: Sandbox;
  let v11: Provider;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 11, schools: 3, studentsPerSchool: 60 });
    v11 = createProvider(v11Config(sandbox));
  });
  afterAll(async () => {
    await v11?.close();
    await sandbox?.close();
  });

  /** Every selection the brief names, with what makes each one interesting. */
  const selections = (): [string, Selection][] => {
    const district = sandbox.district;
    const cls = district.classes[5]!;
    const school = district.schools()[1]!;
    const middle = district.schools()[0]!;
    const sections = (id: string): number => district.courseClasses(id).length;
    const course = [...district.courses].sort((a, b) => sections(b.sourcedId) - sections(a.sourcedId))[0]!;
    return [
      ["all students", { users: "students" }],
      [
        "classes sharing a title",
        { users: "students", groups: [{ type: "classes", match: TWINS, matchOn: ["title"] }] },
      ],
      [
        "a class by sourcedId, teachers",
        { users: "teachers", groups: [{ type: "classes", match: cls.sourcedId }] },
      ],
      [
        "a class by sourcedId, users",
        { users: "users", groups: [{ type: "classes", match: cls.sourcedId }] },
      ],
      [
        "a school by name, students",
        { users: "students", groups: [{ type: "schools", match: school.name }] },
      ],
      [
        "a school by name, teachers",
        { users: "teachers", groups: [{ type: "schools", match: school.name }] },
      ],
      [
        "a course by title",
        { users: "students", groups: [{ type: "courses", match: course.title, matchOn: ["title"] }] },
      ],
      ["include grades", { users: "students", include: { grades: ["06"] } }],
      [
        "a school, include grades",
        // The first school is a middle school (grades 06–08).
        {
          users: "students",
          groups: [{ type: "schools", match: middle.name }],
          include: { grades: ["07", "08"] },
        },
      ],
    ];
  };

  /** Asserts the 1.2 provider resolves every selection to the 1.1 connector's members. */
  async function expectSameMembers(provider: Provider, config: ProviderConfig): Promise<void> {
    for (const [name, selection] of selections()) {
      const expected = await resolvedMembers(v11, v11Config(sandbox), selection);
      expect(expected.length, name).toBeGreaterThan(0);
      expect(await resolvedMembers(provider, config, selection), name).toEqual(expected);
    }
  }

  it("the 1.2 dialect serves 1.2 shapes: roles[], primaryOrg, boolean enabledUser, no role/orgs", async () => {
    const token = await fetch(sandbox.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: sandbox.clientId,
        client_secret: sandbox.clientSecret,
        scope: SCOPE,
      }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const get = (path: string) =>
      fetch(`${sandbox.url12}${path}`, { headers: { authorization: `Bearer ${token.access_token}` } });
    const teacher = sandbox.district.users.find((u) => u.role === "teacher" && u.orgs.length === 2)!;
    const { user } = (await (await get(`users/${teacher.sourcedId}`)).json()) as {
      user: Record<string, unknown>;
    };
    expect(user).not.toHaveProperty("role");
    expect(user).not.toHaveProperty("orgs");
    expect(user.enabledUser).toBe(teacher.enabledUser === "true");
    expect(user.roles).toEqual(
      teacher.orgs.map((org, i) => ({
        roleType: i === 0 ? "primary" : "secondary",
        role: "teacher",
        org: { ...org, href: `/ims/oneroster/rostering/v1p2/orgs/${org.sourcedId}` },
      })),
    );
    expect(user.primaryOrg).toMatchObject({ sourcedId: teacher.orgs[0]!.sourcedId });
    const admins = (await (await get("users?filter=roles.role%3D'siteAdministrator'")).json()) as {
      users: unknown[];
    };
    expect(admins.users.length).toBe(sandbox.district.usersWithRole("administrator").length);
    // OAuth 2 only: no token, no data.
    const anonymous = await fetch(`${sandbox.url12}orgs`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
  });

  it("with nested endpoints: the same members as 1.1 for every selection; one token for all", async () => {
    const config = v12Config(sandbox);
    const provider = createProvider(config);
    try {
      sandbox.resetStats();
      await expectSameMembers(provider, config);
      const stats = sandbox.stats();
      expect(stats.tokenRequests).toBe(1);
      expect(stats.byRoute["v1p2/classes/{id}/students"]).toBeGreaterThan(0);
      expect(stats.byRoute["v1p2/enrollments"]).toBeUndefined();
      const everyone = await resolvedMembers(provider, config, { users: "users" });
      expect(new Set(everyone.map((m) => m.role))).toEqual(new Set(["student", "teacher", "administrator"]));
      expect(everyone).toEqual(await resolvedMembers(v11, v11Config(sandbox), { users: "users" }));
    } finally {
      await provider.close();
    }
  });

  it("without nested endpoints: the same members from the top-level collections; each nested route tried once", async () => {
    sandbox.configureOneRoster12({ nestedEndpoints: false });
    const config = v12Config(sandbox);
    const provider = createProvider(config) as OneRosterConnector;
    try {
      sandbox.resetStats();
      await expectSameMembers(provider, config);
      const { byRoute } = sandbox.stats();
      // Each nested route answered 404 once; its group had come from its collection in this run,
      // which tells "no endpoint" from "no such group" without a request; every later group went
      // straight to the fallback.
      expect(byRoute["v1p2/classes/{id}/students"]).toBe(1);
      expect(byRoute["v1p2/classes/{id}"]).toBeUndefined();
      expect(byRoute["v1p2/schools/{id}/students"]).toBe(1);
      expect(byRoute["v1p2/schools/{id}/teachers"]).toBeUndefined();
      expect(byRoute["v1p2/courses/{id}/classes"]).toBe(1);
      expect(provider.nested.known("classes/{id}/students|teachers")).toBe(false);
      expect(provider.nested.known("courses/{id}/classes")).toBe(false);
      expect(byRoute["v1p2/enrollments"]).toBeGreaterThan(0);
      // The server filtered: a class's enrollments are one short page, not the whole collection.
      expect(sandbox.stats().byStatus["400"]).toBeUndefined();
    } finally {
      sandbox.configureOneRoster12({ nestedEndpoints: true });
      await provider.close();
    }
  });

  it("fetches a few users one by one, and lists the directory once when that is cheaper", async () => {
    sandbox.configureOneRoster12({ nestedEndpoints: false });
    const config = v12Config(sandbox);
    const provider = createProvider(config);
    try {
      sandbox.resetStats();
      const cls = sandbox.district.classes.find(
        (c) => sandbox.district.classUsers(c.sourcedId, "teacher").length > 0,
      )!;
      const teachers = await resolvedMembers(provider, config, {
        users: "teachers",
        groups: [{ type: "classes", match: cls.sourcedId }],
      });
      expect(teachers.length).toBeGreaterThan(0);
      let { byRoute } = sandbox.stats();
      // One page of X-Total-Count to price the directory, then the class's teachers one by one.
      expect(byRoute["v1p2/users"]).toBe(1);
      expect(byRoute["v1p2/users/{id}"]).toBe(sandbox.district.classUsers(cls.sourcedId, "teacher").length);

      // The twin sections' students cost more than the whole directory: it is listed, once.
      sandbox.resetStats();
      await resolvedMembers(provider, config, {
        users: "students",
        groups: [{ type: "classes", match: TWINS, matchOn: ["title"] }],
      });
      await resolvedMembers(provider, config, {
        users: "students",
        groups: [{ type: "classes", match: TWINS, matchOn: ["title"] }],
      });
      ({ byRoute } = sandbox.stats());
      const directoryPages = Math.ceil(sandbox.district.users.length / config.pageSize);
      expect(byRoute["v1p2/users"]).toBe(directoryPages);
      expect(byRoute["v1p2/users/{id}"]).toBeUndefined();
    } finally {
      sandbox.configureOneRoster12({ nestedEndpoints: true });
      await provider.close();
    }
  });

  it("without nested endpoints and without filter (400): the same members, each collection listed once", async () => {
    sandbox.configureOneRoster12({ nestedEndpoints: false, acceptFilter: false });
    const config = v12Config(sandbox);
    const provider = createProvider(config);
    try {
      sandbox.resetStats();
      await expectSameMembers(provider, config);
      const stats = sandbox.stats();
      // One 400 per filtered collection and field (enrollments by class, classes by course, and
      // classes and courses by title, which the group lookups filter), however many groups asked
      // at once; after that, the whole collection, listed once (only the fallback reads
      // /enrollments).
      expect(stats.byStatus["400"]).toBe(4);
      const pages = Math.ceil(sandbox.district.enrollments.length / config.pageSize);
      expect(stats.byRoute["v1p2/enrollments"]).toBe(1 + pages);
    } finally {
      sandbox.configureOneRoster12({ nestedEndpoints: true, acceptFilter: true });
      await provider.close();
    }
  });

  it("a class that is gone is still an error, and does not mark the nested endpoint missing", async () => {
    const config = v12Config(sandbox);
    const provider = createProvider(config) as OneRosterConnector;
    try {
      const error = await providerError(
        provider.groupMembers({ type: "classes", sourcedId: "no-such-class" }, "students"),
      );
      expect(error.status).toBe(404);
      expect(provider.nested.known("classes/{id}/students|teachers")).toBeUndefined();
      const cls = sandbox.district.classes[0]!;
      await provider.groupMembers({ type: "classes", sourcedId: cls.sourcedId }, "students");
      expect(provider.nested.known("classes/{id}/students|teachers")).toBe(true);
    } finally {
      await provider.close();
    }
  });

  it("caches the token across requests and fetches a new one once after a 401", async () => {
    const config = v12Config(sandbox);
    const provider = createProvider(config);
    try {
      sandbox.resetStats();
      await provider.check();
      await resolvedMembers(provider, config, { users: "students" });
      let stats = sandbox.stats();
      expect(stats.tokenRequests).toBe(1);
      expect(stats.apiRequests).toBeGreaterThan(2);

      expect(sandbox.revokeTokens()).toBeGreaterThan(0);
      await provider.check();
      stats = sandbox.stats();
      expect(stats.status401).toBe(1);
      expect(stats.tokenRequests).toBe(2);
      expect(provider.stats.retries).toBe(1);

      await resolvedMembers(provider, config, { users: "teachers" });
      expect(sandbox.stats().tokenRequests).toBe(2);
    } finally {
      await provider.close();
    }
  });

  it("keeps the token until shortly before expires_in (sandbox tokens live 3600 s)", async () => {
    let now = 1_000_000;
    const tokens = new OAuth2TokenSource({
      providerName: "or12",
      tokenUrl: sandbox.tokenUrl,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      scope: SCOPE,
      got: createGotInstance({ timeoutMs: 5000 }),
      maxResponseBytes: 2 ** 20,
      now: () => now,
    });
    sandbox.resetStats();
    const first = await tokens.token();
    now += 3539_000;
    expect(await tokens.token()).toBe(first);
    expect(sandbox.stats().tokenRequests).toBe(1);
    // Within a minute of expiry: a new one.
    now += 2_000;
    expect(await tokens.token()).not.toBe(first);
    expect(sandbox.stats().tokenRequests).toBe(2);
  });

  it("a wrong client secret is PROVIDER_AUTH, and the secret appears nowhere in the error", async () => {
    const secret = "wrong-secret-5e0b7c";
    const provider = createProvider(v12Config(sandbox, { clientSecret: secret }));
    try {
      const error = await providerError(provider.check());
      expect(error.code).toBe("PROVIDER_AUTH");
      expect(error.status).toBe(401);
      expect(error.url).toBe(sandbox.tokenUrl);
      expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(secret);
      expect((await providerError(provider.allUsers("students"))).code).toBe("PROVIDER_AUTH");
    } finally {
      await provider.close();
    }
  });
});

describe("the top-level fallback on a 1.1 server that answers nested endpoints 501", () => {
  const student = (id: string) => ({ sourcedId: id, status: "active", role: "student", enabledUser: "true" });
  const enrollment = (id: string, cls: string, user: string, role = "student", status = "active") => ({
    sourcedId: id,
    status,
    role,
    class: { sourcedId: cls },
    user: { sourcedId: user },
  });
  // A server that ignores `filter` altogether: it sends every enrollment, whatever was asked.
  const ENROLLMENTS = [
    enrollment("e1", "c1", "s1"),
    enrollment("e2", "c1", "t1", "teacher"),
    enrollment("e3", "c2", "s2"),
    enrollment("e4", "c1", "s3", "student", "tobedeleted"),
    enrollment("e5", "c1", "s1"),
  ];

  it("uses the 1.1 filter names, re-checks what an ignoring server sends, and skips tobedeleted enrollments", async () => {
    await withServer(
      (_req, res, url) => {
        const path = url.pathname.replace("/ims/oneroster/v1p1/", "");
        if (path.split("/").length > 2) {
          sendJson(res, { imsx_codeMajor: "failure" }, {}, 501);
        } else if (path === "enrollments") {
          const offset = Number(url.searchParams.get("offset") ?? 0);
          sendJson(res, { enrollments: offset === 0 ? ENROLLMENTS : [] });
        } else if (path === "users") {
          sendJson(res, { users: [student("s1")] }, { "x-total-count": "1000" });
        } else if (path.startsWith("users/")) {
          sendJson(res, { user: student(path.slice("users/".length)) });
        } else {
          sendJson(res, {}, {}, 404);
        }
      },
      async (server) => {
        const parsed = providerSchema.parse({
          type: "oneroster",
          baseUrl: server.url,
          auth: { method: "none" },
          retry: FAST_RETRY,
        });
        const provider = createProvider({ ...parsed, name: "or11" }) as OneRosterConnector;
        try {
          const users = await provider.groupMembers({ type: "classes", sourcedId: "c1" }, "students");
          expect(users.map((u) => [u.sourcedId, u.role])).toEqual([["s1", "student"]]);
          expect(provider.nested.known("classes/{id}/students|teachers")).toBe(false);
          const enrollmentRequests = server.requests.filter((r) =>
            r.startsWith("/ims/oneroster/v1p1/enrollments"),
          );
          expect(decodeURIComponent(enrollmentRequests[0]!)).toContain(
            "filter=classSourcedId='c1' AND role='student'",
          );
          // 501 is unambiguous: no probe of /classes/c1.
          expect(server.requests).not.toContain("/ims/oneroster/v1p1/classes/c1");
          expect(server.requests.filter((r) => r.startsWith("/ims/oneroster/v1p1/users/"))).toEqual([
            "/ims/oneroster/v1p1/users/s1",
          ]);
        } finally {
          await provider.close();
        }
      },
    );
  });
});
