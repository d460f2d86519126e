// Every REST connector against the sandbox's strict modes on 127.0.0.1 (issue 9 item 3 and the
// sandbox's modes): the members of classes, courses, schools and the whole directory equal what the
// same connector resolves from the friendly sandbox, when the server is as sparse and odd as the
// specs allow (`minimal`: required endpoints and fields only, filters ignored, a shuffled order, a
// capped limit, no paging headers) and, for OneRoster, when it serves top-level collections only
// (`topLevelOnly`: no `/classes/{id}/students`, no `/classes/{id}` either).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { createProvider } from "../../src/providers/index.js";
import type { Provider } from "../../src/providers/types.js";
import type { SandboxModes } from "../../src/sandbox/modes.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import { resolvedMembers, type Selection } from "../helpers/resolve.js";

const TWINS = "ELA 6 (6A ELA)";

function config(input: Record<string, unknown>): ProviderConfig {
  const parsed = providerSchema.parse({
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: { limit: 2, baseDelayMs: 5, maxDelayMs: 50 },
    timeoutMs: 5000,
    pageSize: 50,
    ...input,
  });
  return { ...parsed, name: String(input.type) };
}

const CONNECTORS: Record<string, (sandbox: Sandbox) => ProviderConfig> = {
  "oneroster 1.1": (sandbox) =>
    config({
      type: "oneroster",
      baseUrl: sandbox.url,
      auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    }),
  classlink: (sandbox) =>
    config({
      type: "classlink",
      baseUrl: sandbox.url,
      auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    }),
  "oneroster 1.2": (sandbox) =>
    config({
      type: "oneroster",
      version: "1.2",
      baseUrl: sandbox.origin,
      auth: { method: "oauth2", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    }),
  clever: (sandbox) =>
    config({
      type: "clever",
      baseUrl: sandbox.cleverUrl,
      auth: { method: "bearer", token: sandbox.cleverToken },
    }),
};

/** Mappings of every kind: classes (shared title, by sourcedId), courses, schools, the directory. */
function selections(sandbox: Sandbox): [string, Selection][] {
  const district = sandbox.district;
  const cls = district.classes[5]!;
  const school = district.schools()[1]!;
  const sections = (id: string): number => district.courseClasses(id).length;
  const course = [...district.courses].sort((a, b) => sections(b.sourcedId) - sections(a.sourcedId))[0]!;
  return [
    [
      "classes sharing a title",
      { users: "students", groups: [{ type: "classes", match: TWINS, matchOn: ["title"] }] },
    ],
    ["a class by sourcedId, users", { users: "users", groups: [{ type: "classes", match: cls.sourcedId }] }],
    [
      "a course by title",
      { users: "students", groups: [{ type: "courses", match: course.title, matchOn: ["title"] }] },
    ],
    ["a school by name, students", { users: "students", groups: [{ type: "schools", match: school.name }] }],
    ["a school by name, teachers", { users: "teachers", groups: [{ type: "schools", match: school.name }] }],
    ["the directory, students", { users: "students" }],
    ["the directory, teachers", { users: "teachers" }],
    ["the directory, users", { users: "users" }],
  ];
}

/** Who the members are (a minimal server sends no email or grades: those are not compared). */
const identities = (members: { key: string; role: string }[]): string[] =>
  members.map((m) => `${m.key}:${m.role}`);

const MODES: Record<string, { modes: SandboxModes; connectors: string[] }> = {
  minimal: { modes: { minimal: true }, connectors: Object.keys(CONNECTORS) },
  "top-level only": {
    modes: { topLevelOnly: true },
    connectors: ["oneroster 1.1", "classlink", "oneroster 1.2"],
  },
  "minimal and top-level only": {
    modes: { minimal: true, topLevelOnly: true },
    connectors: ["oneroster 1.1", "oneroster 1.2"],
  },
};

describe("connectors against the sandbox's strict modes", () => {
  let sandbox: Sandbox;
  /** Per connector and selection: the members the friendly sandbox gives. */
  const friendly = new Map<string, string[]>();

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 11, schools: 3, studentsPerSchool: 60 });
    for (const [name, make] of Object.entries(CONNECTORS)) {
      const cfg = make(sandbox);
      const provider = createProvider(cfg);
      try {
        for (const [selection, spec] of selections(sandbox)) {
          const members = identities(await resolvedMembers(provider, cfg, spec));
          expect(members.length, `${name}: ${selection}`).toBeGreaterThan(0);
          friendly.set(`${name}|${selection}`, members);
        }
      } finally {
        await provider.close();
      }
    }
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  for (const [modeName, { modes, connectors }] of Object.entries(MODES)) {
    it.each(connectors)(
      `${modeName}: %s resolves the friendly sandbox's members for every kind`,
      async (name) => {
        sandbox.setModes(modes);
        const cfg = CONNECTORS[name]!(sandbox);
        const provider: Provider = createProvider(cfg);
        try {
          sandbox.resetStats();
          for (const [selection, spec] of selections(sandbox)) {
            const members = identities(await resolvedMembers(provider, cfg, spec));
            expect(members, `${name} ${modeName}: ${selection}`).toEqual(
              friendly.get(`${name}|${selection}`),
            );
          }
          // Nothing failed but what a strict server refuses: nested endpoints and (top-level
          // only) single records with 404, and a filter on a field the 1.1 parser does not know
          // (`courseSourcedId`) with 400.
          const { byStatus } = sandbox.stats();
          expect(Object.keys(byStatus).filter((s) => !["200", "400", "404"].includes(s))).toEqual([]);
        } finally {
          sandbox.setModes({ minimal: false, topLevelOnly: false });
          await provider.close();
        }
      },
    );
  }

  it.each(Object.keys(CONNECTORS))(
    "minimal: %s fails a mapping whose include key no user has (grades not sent), never an empty roster",
    async (name) => {
      const cfg = CONNECTORS[name]!(sandbox);
      const spec: Selection = { users: "students", include: { grades: ["06", "07", "08"] } };
      const provider: Provider = createProvider(cfg);
      try {
        expect((await resolvedMembers(provider, cfg, spec)).length).toBeGreaterThan(0);
      } finally {
        await provider.close();
      }
      sandbox.setModes({ minimal: true });
      const strict: Provider = createProvider(cfg);
      try {
        await expect(resolvedMembers(strict, cfg, spec)).rejects.toThrow(
          /include "grades": none of the \d+ active users fetched has a value for it/,
        );
      } finally {
        sandbox.setModes({ minimal: false });
        await strict.close();
      }
    },
  );

  it("minimal mode serves what it promises: required fields, a shuffled capped page, no paging headers, filters ignored", async () => {
    sandbox.setModes({ minimal: true });
    try {
      // Read through the 1.2 API: a bearer token is simpler to send by hand than a signature.
      const token = (await fetch(sandbox.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: sandbox.clientId,
          client_secret: sandbox.clientSecret,
        }),
      }).then((r) => r.json())) as { access_token: string };
      const get = (path: string) =>
        fetch(`${sandbox.url12}${path}`, { headers: { authorization: `Bearer ${token.access_token}` } });
      const response = await get("users?limit=100&offset=0&filter=role%3D'teacher'&sort=familyName");
      expect(response.headers.get("x-total-count")).toBeNull();
      expect(response.headers.get("link")).toBeNull();
      const { users } = (await response.json()) as { users: Record<string, unknown>[] };
      expect(users).toHaveLength(7);
      const ids = users.map((u) => String(u.sourcedId));
      expect(ids).not.toEqual([...ids].sort());
      // The filter was ignored: not only teachers came back.
      expect(users.some((u) => (u.roles as { role: string }[])[0]?.role !== "teacher")).toBe(true);
      for (const user of users) {
        expect(user).not.toHaveProperty("email");
        expect(user).not.toHaveProperty("grades");
        expect(user).toHaveProperty("roles");
      }
      const nested = await get(`classes/${sandbox.district.classes[0]!.sourcedId}/students`);
      expect(nested.status).toBe(404);
      await nested.body?.cancel();
    } finally {
      sandbox.setModes({ minimal: false });
    }
  });
});
