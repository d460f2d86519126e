// The fetch scenarios of `npm run bench` (issue 4, "Speed"): the district, the mappings of each
// scenario, and the minimum number of requests each needs, computed from the district.
import type { District } from "../src/sandbox/index.js";

/** The benchmark district: 20 schools × 3,000 students (60k students, 2,400 teachers, ~14k
 * classes), plus 500 classes titled "Advisory" for scenario (c). */
export const DISTRICT = {
  seed: 1,
  schools: 20,
  studentsPerSchool: 3000,
  sharedTitle: { title: "Advisory", classes: 500 },
} as const;

/** The sandbox's limits: 20 ms per request, 50 requests a second, pages of at most 1,000. */
export const LIMITS = { latencyMs: 20, requestsPerSecond: 50, maxPageSize: 1000 } as const;

/** Our connector's settings: the server's largest page, its rate, 8 requests in flight. */
export const PROVIDER = {
  pageSize: LIMITS.maxPageSize,
  requestsPerSecond: LIMITS.requestsPerSecond,
  concurrency: 8,
} as const;

/** The seed library's way, the baseline: one request at a time, its default page size. */
export const BASELINE = { pageSize: 100 } as const;

export interface GroupSpec {
  type: "classes" | "schools";
  match: string;
  matchOn: string[];
}

export interface BenchMapping {
  name: string;
  /** Omitted: every student of the district. */
  group?: GroupSpec;
}

export interface Scenario {
  id: string;
  title: string;
  mappings: BenchMapping[];
  /** Fewest requests that can fetch these mappings at pageSize `PROVIDER.pageSize` (see minRequests). */
  minRequests: number;
}

/** Pages of a collection, plus the request that confirms a total ending on a full page (SPEC §4). */
const pages = (records: number, pageSize: number): number =>
  Math.max(1, Math.ceil(records / pageSize)) + (records > 0 && records % pageSize === 0 ? 1 : 0);

/**
 * The scenarios, with their minimum request counts. The minimum is what any client must spend at
 * the server's largest page: for each collection it fetches, ceil(records / pageSize) pages (an
 * empty collection still costs one request, and a total that ends on a full page one more, which
 * confirms the end: SPEC §4), plus one request per group lookup:
 *   (a) whole district: the `/students` collection;
 *   (b) one mapping per school (20 in one sync): the list of schools (one page, shared by all 20
 *       mappings), then each school's `/schools/{id}/students`;
 *   (c) 500 classes titled "Advisory": one lookup of the 500 classes (`filter`, one page), then
 *       each class's `/classes/{id}/students`.
 */
export function scenarios(district: District): Scenario[] {
  const size = PROVIDER.pageSize;
  const students = district.usersWithRole("student").length;
  const schools = district.schools();
  const title = DISTRICT.sharedTitle.title;
  const shared = district.classes.filter((c) => c.title === title);
  return [
    {
      id: "a",
      title: "whole district (all students)",
      mappings: [{ name: "district-students" }],
      minRequests: pages(students, size),
    },
    {
      id: "b",
      title: `one mapping per school (${schools.length})`,
      mappings: schools.map((s) => ({
        name: `school-${s.sourcedId}`,
        group: { type: "schools", match: s.name, matchOn: ["name"] },
      })),
      minRequests:
        pages(schools.length, size) +
        schools.reduce((n, s) => n + pages(district.schoolUsers(s.sourcedId, "student").length, size), 0),
    },
    {
      id: "c",
      title: `${shared.length} classes sharing the title "${title}"`,
      mappings: [{ name: "advisory", group: { type: "classes", match: title, matchOn: ["title"] } }],
      minRequests:
        pages(shared.length, size) +
        shared.reduce((n, c) => n + pages(district.classUsers(c.sourcedId, "student").length, size), 0),
    },
  ];
}

/** A `sync.config.yaml` (as JSON, which YAML reads) running the scenario's mappings on the sandbox. */
export function syncConfig(
  scenario: Scenario,
  sandbox: { url: string; clientId: string; clientSecret: string },
  databaseUrl: string,
): string {
  return JSON.stringify(
    {
      database: { url: databaseUrl },
      providers: {
        district: {
          type: "oneroster",
          version: "1.1",
          baseUrl: sandbox.url,
          auth: { method: "oauth1", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
          pageSize: PROVIDER.pageSize,
          rateLimit: { requestsPerSecond: PROVIDER.requestsPerSecond, concurrency: PROVIDER.concurrency },
        },
      },
      mappings: scenario.mappings.map((m) => ({
        name: m.name,
        provider: "district",
        users: "students",
        ...(m.group ? { groups: [m.group] } : {}),
        product: "bench",
        safety: { maxRemovals: 1_000_000, maxRemovalPercent: 100 },
      })),
      events: { sinks: [] },
    },
    null,
    2,
  );
}
