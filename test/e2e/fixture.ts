// Shared pieces of the end-to-end tests: a workspace (a temp folder with its own sync.config.yaml,
// embedded database and events file, in which the BUILT command line runs), the JSON shapes of SPEC §6,
// and the expected membership computed straight from the sandbox's district, independently of the code
// under test.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import type { District, UserRecord } from "../../src/sandbox/index.js";
import { parseJson, runCli, type CliResult } from "../helpers/cli.js";

/** The twin sections of Lincoln Middle School (sch-01). */
export const ELA6 = "ELA 6 (6A ELA)";
export const LINCOLN = "sch-01";
/** The sandbox's default OAuth1 credentials. */
export const CLIENT_ID = "sandbox-client";
export const CLIENT_SECRET = "sandbox-secret";

/** One run as `sync --json` prints it (SPEC §6). */
export interface RunJson {
  runId: string;
  mapping: string;
  status: "succeeded" | "failed" | "held" | "dry-run";
  members: number | null;
  added: number;
  removed: number;
  updated: number;
  requests: number;
  durationMs: number;
  error: string | null;
}

/** One run as `history --json` prints it: a RunJson plus when and why. */
export interface HistoryJson extends RunJson {
  startedAt: string;
  finishedAt: string;
  trigger: string;
}

export const RUN_KEYS = [
  "runId",
  "mapping",
  "status",
  "members",
  "added",
  "removed",
  "updated",
  "requests",
  "durationMs",
  "error",
];
export const HISTORY_KEYS = [...RUN_KEYS, "startedAt", "finishedAt", "trigger"];

/** The `user` of an event and a row of `members --json` (SPEC §5). */
export interface EventUser {
  sourcedId: string;
  role: string;
  username: string | null;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  grades: string[];
  orgs: string[];
}

export const EVENT_KEYS = ["id", "type", "mapping", "product", "runId", "occurredAt", "user"];
export const USER_KEYS = [
  "sourcedId",
  "role",
  "username",
  "email",
  "givenName",
  "familyName",
  "grades",
  "orgs",
];

export interface EventJson {
  id: string;
  type: "add" | "remove" | "update";
  mapping: string;
  product: string | string[];
  runId: string;
  occurredAt: string;
  user: EventUser;
  /** `events --json` only: the delivery state per sink. */
  deliveries?: { sink: string; state: string; attempts: number; lastError: string | null }[];
}

/** A mapping as written in sync.config.yaml. */
export interface MappingSpec {
  name: string;
  users: "students" | "teachers" | "users";
  groups?: { type: "classes" | "courses" | "schools"; match: string; matchOn?: string[] }[];
  include?: Record<string, string[]>;
  product: string | string[];
  safety?: { maxRemovals?: number; maxRemovalPercent?: number };
}

/** The students of the class titled ELA6, for creative-cloud: the mapping most tests sync. */
export const ELA6_MAPPING: MappingSpec = {
  name: "ela6-creative-cloud",
  users: "students",
  groups: [{ type: "classes", match: ELA6, matchOn: ["title"] }],
  product: "creative-cloud",
};

export interface ConfigOptions {
  /** The sandbox's API base URL. */
  baseUrl: string;
  mappings: MappingSpec[];
  /** Written as is; the default reads `$SANDBOX_SECRET` with the sandbox's secret as fallback. */
  clientSecret?: string;
  pageSize?: number;
  rateLimit?: { requestsPerSecond?: number; concurrency?: number };
  retry?: { limit?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** The `file` sink's path. Default ./events.ndjson. */
  eventsPath?: string;
}

/** The provider every generated config names. */
export const PROVIDER = "sandbox";

export function configYaml(options: ConfigOptions): string {
  const config = {
    database: { url: "file:./db" },
    providers: {
      [PROVIDER]: {
        type: "oneroster",
        version: "1.1",
        baseUrl: options.baseUrl,
        auth: {
          method: "oauth1",
          clientId: CLIENT_ID,
          clientSecret: options.clientSecret ?? `\${SANDBOX_SECRET:-${CLIENT_SECRET}}`,
        },
        pageSize: options.pageSize ?? 10,
        // Fast enough for tests; the sandbox has no rate limit unless a test sets one.
        rateLimit: { requestsPerSecond: 200, concurrency: 4, ...options.rateLimit },
        retry: { limit: 6, baseDelayMs: 20, maxDelayMs: 2000, ...options.retry },
        timeoutMs: 10_000,
      },
    },
    mappings: options.mappings.map((m) => ({ ...m, provider: PROVIDER })),
    events: { sinks: [{ type: "file", path: options.eventsPath ?? "./events.ndjson" }] },
  };
  return `# written by test/e2e/fixture.ts\n${stringify(config)}`;
}

/** A temp folder owning one config, one embedded database (./db) and one events file. */
export class Workspace {
  private constructor(readonly dir: string) {}

  static async create(name: string): Promise<Workspace> {
    return new Workspace(await mkdtemp(path.join(tmpdir(), `roster-sync-e2e-${name}-`)));
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  async writeConfig(options: ConfigOptions): Promise<void> {
    await writeFile(this.path("sync.config.yaml"), configYaml(options));
  }

  /** Runs the built CLI in this folder. */
  cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { cwd: this.dir, env, timeoutMs: 120_000 });
  }

  /** Runs a `--json` command, checks its exit code and parses stdout. */
  async json<T>(args: string[], expectedCode = 0, env: Record<string, string> = {}): Promise<T> {
    const result = await this.cli([...args, "--json"], env);
    if (result.code !== expectedCode) {
      throw new Error(
        `roster-sync ${args.join(" ")} exited ${result.code}, expected ${expectedCode}\n` +
          `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      );
    }
    return parseJson<T>(result);
  }

  /** `sync --json` with the expected exit code: the runs it printed. */
  async sync(args: string[] = [], expectedCode = 0, env: Record<string, string> = {}): Promise<RunJson[]> {
    return (await this.json<{ runs: RunJson[] }>(["sync", ...args], expectedCode, env)).runs;
  }

  async history(args: string[] = []): Promise<HistoryJson[]> {
    return (await this.json<{ runs: HistoryJson[] }>(["history", ...args])).runs;
  }

  async events(args: string[] = []): Promise<EventJson[]> {
    return (await this.json<{ events: EventJson[] }>(["events", ...args])).events;
  }

  async members(mapping: string): Promise<EventUser[]> {
    return (await this.json<{ members: EventUser[] }>(["members", "--mapping", mapping])).members;
  }

  /** The events file's text ("" while it does not exist). */
  async eventsFile(file = "events.ndjson"): Promise<string> {
    const full = this.path(file);
    return existsSync(full) ? readFile(full, "utf8") : "";
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** The NDJSON file's events, one per line; every line must be a complete JSON document. */
export function parseNdjson(text: string): EventJson[] {
  if (text === "") {
    return [];
  }
  if (!text.endsWith("\n")) {
    throw new Error(`the events file ends with a torn line: ${JSON.stringify(text.slice(-80))}`);
  }
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as EventJson);
}

/** SPEC §3: a `tobedeleted` or disabled user is never a member. */
export function isMember(user: UserRecord): boolean {
  return user.status !== "tobedeleted" && String(user.enabledUser).toLowerCase() !== "false";
}

const textOrNull = (value: unknown): string | null =>
  typeof value === "string" && value.trim() !== "" ? value.trim() : null;

/** A sandbox user as a member / event user (SPEC §5). */
export function asEventUser(user: UserRecord): EventUser {
  return {
    sourcedId: user.sourcedId,
    role: user.role,
    username: textOrNull(user.username),
    email: textOrNull(user.email),
    givenName: textOrNull(user.givenName),
    familyName: textOrNull(user.familyName),
    grades: [...user.grades],
    orgs: user.orgs.map((o) => o.sourcedId),
  };
}

/** Members of every class titled `title` in `schoolId`: the union of their users, unique by sourcedId. */
export function expectedClassMembers(
  district: District,
  title: string,
  schoolId: string,
  role: "student" | "teacher" = "student",
): Map<string, EventUser> {
  const wanted = title.trim().toLowerCase();
  const classes = district.classes.filter(
    (c) => c.school.sourcedId === schoolId && c.title.trim().toLowerCase() === wanted,
  );
  if (classes.length === 0) {
    throw new Error(`the district has no class "${title}" in ${schoolId}`);
  }
  const members = new Map<string, EventUser>();
  for (const cls of classes) {
    for (const user of district.classUsers(cls.sourcedId, role)) {
      if (isMember(user)) {
        members.set(user.sourcedId, asEventUser(user));
      }
    }
  }
  return members;
}

/** Members of a school with the role. */
export function expectedSchoolMembers(
  district: District,
  schoolId: string,
  role: "student" | "teacher",
): Map<string, EventUser> {
  const members = new Map<string, EventUser>();
  for (const user of district.schoolUsers(schoolId, role)) {
    if (isMember(user)) {
      members.set(user.sourcedId, asEventUser(user));
    }
  }
  return members;
}

/** Sorted by sourcedId, to compare lists regardless of order. */
export function bySourcedId<T extends { sourcedId: string }>(items: Iterable<T>): T[] {
  return [...items].sort((a, b) => (a.sourcedId < b.sourcedId ? -1 : a.sourcedId > b.sourcedId ? 1 : 0));
}

/** `type sourcedId` pairs, sorted: what a set of events says happened. */
export function eventPairs(events: { type: string; user: { sourcedId: string } }[]): string[] {
  return events.map((e) => `${e.type} ${e.user.sourcedId}`).sort();
}

/** Members of every class of the courses titled one of `titles`, whose grades include one of `grades`. */
export function expectedCourseMembers(
  district: District,
  titles: string[],
  grades: string[],
): { members: Map<string, EventUser>; excluded: number } {
  const wanted = new Set(titles.map((t) => t.trim().toLowerCase()));
  const courses = district.courses.filter((c) => wanted.has(c.title.trim().toLowerCase()));
  if (courses.length === 0) {
    throw new Error(`the district has no course titled ${titles.join(" or ")}`);
  }
  const members = new Map<string, EventUser>();
  const excluded = new Set<string>();
  for (const course of courses) {
    for (const cls of district.courseClasses(course.sourcedId)) {
      for (const user of district.classUsers(cls.sourcedId, "student")) {
        if (!isMember(user)) {
          continue;
        }
        if (user.grades.some((g) => grades.includes(g))) {
          members.set(user.sourcedId, asEventUser(user));
        } else {
          excluded.add(user.sourcedId);
        }
      }
    }
  }
  return { members, excluded: excluded.size };
}

/**
 * Timeout of one step of a scenario (and of a beforeAll that syncs): every command is a process that
 * opens the embedded database (1–3 s of CPU), and on a busy 2-core machine a step of a few commands
 * can take a minute.
 */
export const STEP_TIMEOUT = 5 * 60_000;
