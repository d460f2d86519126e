// Finding groups with the server's `filter` (issue 4, "Speed"; src/providers/oneroster/groups.ts)
// against the sandbox on 127.0.0.1: fewer requests than listing every class, the same members as
// the listing path, case and whitespace variants of a title still matched, a 400 to a filter
// remembered and answered by listing, and a filter answer that matches nothing re-checked by a
// listing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type MappingConfig, type ProviderConfig } from "../../src/config/schema.js";
import { NoGroupMatchedError } from "../../src/errors.js";
import { createProvider } from "../../src/providers/index.js";
import type { GroupType, Provider } from "../../src/providers/types.js";
import { generateDistrict } from "../../src/sandbox/district.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/server.js";
import type { Member } from "../../src/domain.js";
import { FetchCache, resolveMembers } from "../../src/sync/resolve.js";
import { sendJson, withServer } from "../helpers/with-server.js";

const SHARED = "Advisory";

function config(sandbox: Sandbox, version: "1.1" | "1.2" = "1.1"): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    version,
    baseUrl: version === "1.1" ? sandbox.url : sandbox.origin,
    auth:
      version === "1.1"
        ? { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret }
        : { method: "oauth2", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    pageSize: 50,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    retry: { limit: 2, baseDelayMs: 5, maxDelayMs: 1000 },
    timeoutMs: 5000,
  });
  return { ...parsed, name: `or${version}` };
}

function mapping(
  provider: ProviderConfig,
  groups: { type: GroupType; match: string; matchOn: string[] }[],
  name = "m",
): MappingConfig {
  return {
    name,
    provider,
    users: "students",
    groups,
    include: undefined,
    product: "p",
    schedule: "0 2 * * *",
    safety: { maxRemovals: 50, maxRemovalPercent: 20 },
  };
}

/** The same connector without findGroups: every lookup lists the groups, as before the filter. */
function listingOnly(p: Provider): Provider {
  return {
    name: p.name,
    get stats() {
      return p.stats;
    },
    listGroups: (type, onProgress) => p.listGroups(type, onProgress),
    courseClasses: (id, onProgress) => p.courseClasses(id, onProgress),
    groupMembers: (group, kind, onProgress) => p.groupMembers(group, kind, onProgress),
    allUsers: (kind, onProgress) => p.allUsers(kind, onProgress),
    check: () => p.check(),
    close: () => p.close(),
  };
}

const sorted = (members: Map<string, Member>): Member[] =>
  [...members.values()].sort((a, b) => (a.key < b.key ? -1 : 1));

describe("group lookup by filter", () => {
  let sandbox: Sandbox;
  let variantIds: string[];

  beforeAll(async () => {
    // 6 schools' classes on several pages of 50, plus 12 classes titled "Advisory", two of which
    // get case and whitespace variants of the title.
    const district = generateDistrict({
      schools: 6,
      studentsPerSchool: 60,
      sharedTitle: { title: SHARED, classes: 12 },
    });
    const shared = district.classes.filter((c) => c.title === SHARED);
    variantIds = [shared[0]!.sourcedId, shared[1]!.sourcedId];
    district.updateClass(variantIds[0]!, { title: "ADVISORY" });
    district.updateClass(variantIds[1]!, { title: `  ${SHARED.toLowerCase()} ` });
    sandbox = await startSandbox({ port: 0, district });
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  /** Members and the requests spent, through a fresh connector and cache. */
  async function resolve(
    groups: { type: GroupType; match: string; matchOn: string[] }[],
    { listing = false, version = "1.1" as "1.1" | "1.2" } = {},
  ): Promise<{ members: Member[]; requests: number; filtered: number; status400: number }> {
    const cfg = config(sandbox, version);
    const connector = createProvider(cfg, {});
    const provider = listing ? listingOnly(connector) : connector;
    sandbox.resetStats();
    try {
      const members = sorted(await resolveMembers(mapping(cfg, groups), new FetchCache(provider)));
      const stats = sandbox.stats();
      return {
        members,
        requests: provider.stats.requests,
        filtered: stats.byPath.classes ?? 0,
        status400: stats.byStatus["400"] ?? 0,
      };
    } finally {
      await provider.close();
    }
  }

  it("asks the server for the classes of a title: fewer requests, the same members as listing", async () => {
    const groups = [{ type: "classes" as const, match: SHARED, matchOn: ["title"] }];
    const filtered = await resolve(groups);
    const listed = await resolve(groups, { listing: true });
    expect(filtered.members.length).toBeGreaterThan(0);
    expect(filtered.members).toEqual(listed.members);
    // One filtered page of classes instead of every page of them.
    expect(filtered.filtered).toBe(1);
    expect(listed.filtered).toBeGreaterThan(3);
    expect(filtered.requests).toBeLessThan(listed.requests);
  });

  it("still matches case and whitespace variants of the title (the filter uses ~, re-checked here)", async () => {
    const groups = [{ type: "classes" as const, match: "advisory ", matchOn: ["title"] }];
    const { members } = await resolve(groups);
    const inVariants = new Set(
      variantIds.flatMap((id) => sandbox.district.classUsers(id, "student").map((u) => u.sourcedId)),
    );
    expect(inVariants.size).toBeGreaterThan(0);
    const keys = new Set(members.map((m) => m.key));
    const active = [...inVariants].filter((id) => {
      const u = sandbox.district.user(id)!;
      return u.status !== "tobedeleted" && u.enabledUser !== "false";
    });
    expect(active.every((id) => keys.has(id))).toBe(true);
  });

  it("uses the filter for courses and for the seed's default matchOn", async () => {
    const course = sandbox.district.courses[0]!;
    for (const groups of [
      [{ type: "courses" as const, match: course.title, matchOn: ["title"] }],
      [{ type: "classes" as const, match: SHARED, matchOn: ["sourcedId", "name", "title"] }],
    ]) {
      const filtered = await resolve(groups);
      const listed = await resolve(groups, { listing: true });
      expect(filtered.members).toEqual(listed.members);
      expect(filtered.requests).toBeLessThan(listed.requests);
    }
  });

  it("lists every class when the filter's answer matches nothing after the re-check", async () => {
    // `title~'Advis'` finds the Advisory classes, none of which is titled "Advis": the listing
    // decides, and finds nothing either: the run's error, as without a filter.
    const groups = [{ type: "classes" as const, match: "Advis", matchOn: ["title"] }];
    await expect(resolve(groups)).rejects.toBeInstanceOf(NoGroupMatchedError);
    expect(sandbox.stats().byPath.classes).toBeGreaterThan(3);
  });

  it("falls back to listing after a 400, remembered for the connector's life", async () => {
    sandbox.configureOneRoster12({ acceptFilter: false });
    try {
      const groups = [
        { type: "classes" as const, match: SHARED, matchOn: ["title"] },
        { type: "classes" as const, match: "ADVISORY", matchOn: ["title"] },
      ];
      const refused = await resolve(groups, { version: "1.2" });
      // One filter tried and refused; the second lookup lists (once, cached) without asking again.
      expect(refused.status400).toBe(1);
      sandbox.configureOneRoster12({ acceptFilter: true });
      const accepted = await resolve(groups, { version: "1.2" });
      expect(accepted.status400).toBe(0);
      expect(refused.members).toEqual(accepted.members);
      expect(accepted.requests).toBeLessThan(refused.requests);
    } finally {
      sandbox.configureOneRoster12({ acceptFilter: true });
    }
  });

  it("asks once per cycle for mappings that share a lookup", async () => {
    const cfg = config(sandbox);
    const provider = createProvider(cfg, {});
    const cache = new FetchCache(provider);
    sandbox.resetStats();
    try {
      const groups = [{ type: "classes" as const, match: SHARED, matchOn: ["title"] }];
      const [a, b] = await Promise.all([
        resolveMembers(mapping(cfg, groups, "a"), cache),
        resolveMembers(mapping(cfg, [{ ...groups[0]!, match: ` ${SHARED.toUpperCase()}` }], "b"), cache),
      ]);
      expect(sorted(a)).toEqual(sorted(b));
      expect(sandbox.stats().byPath.classes).toBe(1);
    } finally {
      await provider.close();
    }
  });

  it("lists the classes when the server answers a filter with a 500, not failing the run", async () => {
    // A server whose filter parser chokes on `~` or `OR`: every filtered request fails, always.
    const classes = [
      { sourcedId: "c1", title: "Advisory" },
      { sourcedId: "c2", title: "Math" },
    ];
    const student = { sourcedId: "s1", role: "student", status: "active", enabledUser: "true" };
    const filtered: string[] = [];
    await withServer(
      (_req, res, url) => {
        const path = url.pathname.replace("/ims/oneroster/v1p1/", "");
        const offset = Number(url.searchParams.get("offset") ?? 0);
        if (url.searchParams.has("filter")) {
          filtered.push(url.searchParams.get("filter")!);
          sendJson(res, { imsx_codeMajor: "failure" }, {}, 500);
        } else if (path === "classes") {
          sendJson(res, { classes: offset === 0 ? classes : [] });
        } else if (path === "classes/c1/students") {
          sendJson(res, { users: offset === 0 ? [student] : [] });
        } else {
          sendJson(res, {}, {}, 404);
        }
      },
      async (server) => {
        const parsed = providerSchema.parse({
          type: "oneroster",
          baseUrl: server.url,
          auth: { method: "none" },
          retry: { limit: 2, baseDelayMs: 1, maxDelayMs: 10 },
        });
        const cfg: ProviderConfig = { ...parsed, name: "choking" };
        const provider = createProvider(cfg, {});
        try {
          const groups = [{ type: "classes" as const, match: "advisory", matchOn: ["title"] }];
          const members = await resolveMembers(mapping(cfg, groups), new FetchCache(provider));
          expect([...members.keys()]).toEqual(["s1"]);
          // The filter was tried (with its retries), then the collection listed.
          expect(filtered.length).toBe(3);
        } finally {
          await provider.close();
        }
      },
    );
  });
});
