// The storage rows of `npm run bench`, run as a child process so that each measures its own memory:
//
//   node --import tsx bench/store.ts commit '{"databaseUrl":"file:/tmp/x","members":100000}'
//     A 100k-member mapping through runMapping (src/sync/run.ts) as `sync` runs it, with a stub
//     provider handing over the users at once (the fetch is measured by the fetch scenarios):
//     "initial" commits 100k adds into an empty snapshot (100k members, 100k events, one sink's
//     100k deliveries); "steady" then diffs and commits the same mapping with 1 % of it changed
//     (500 added, 500 removed, 1,000 updated).
//   node --import tsx bench/store.ts diff '{"members":1000000}'
//     diffMembers (src/sync/diff.ts) on 1M members against a 1M snapshot with the same 1 % change.
//     Baseline, in the same run: a naive diff comparing each member's JSON.stringify.
//
// Prints one JSON line per row: { row, wallMs, maxRssKb, ... }.
import { parseConfig } from "../src/config/load.js";
import { createLogger } from "../src/log.js";
import type { Provider, RosterUser } from "../src/providers/types.js";
import { openDatabase } from "../src/store/index.js";
import { diffMembers, type Diff } from "../src/sync/diff.js";
import type { Member } from "../src/domain.js";
import { FetchCache } from "../src/sync/resolve.js";
import { runMapping } from "../src/sync/run.js";

const [command, json] = process.argv.slice(2);
const input = JSON.parse(json ?? "{}") as { databaseUrl?: string; members: number };

const pad = (n: number) => String(n).padStart(7, "0");

/** User i of a generated roster; `version` changes the email of the users it touches. */
function user(i: number, version = 0): RosterUser {
  const id = `stu-${pad(i)}`;
  return {
    sourcedId: id,
    role: "student",
    username: `student.${i}`,
    email: `student.${i}${version ? `.v${version}` : ""}@bench.example`,
    givenName: `Given${i % 997}`,
    familyName: `Family${i % 1009}`,
    grades: [String(6 + (i % 7)).padStart(2, "0")],
    orgs: [`sch-${String(1 + (i % 20)).padStart(2, "0")}`],
    status: "active",
    enabledUser: true,
    raw: { sourcedId: id },
  };
}

/** The roster after a 1 % change: the first 0.5 % gone, 0.5 % new at the end, 1 % with a new email. */
function changedRoster(n: number, make: (i: number, version?: number) => RosterUser): RosterUser[] {
  const gone = Math.floor(n / 200);
  const users: RosterUser[] = [];
  for (let i = gone; i < n + gone; i += 1) {
    users.push(make(i, i % 100 === 1 ? 1 : 0));
  }
  return users;
}

function stubProvider(users: () => RosterUser[]): Provider {
  return {
    name: "bench",
    stats: { requests: 0, retries: 0, status429: 0 },
    listGroups: () => Promise.resolve([]),
    courseClasses: () => Promise.resolve([]),
    groupMembers: () => Promise.resolve([]),
    allUsers: () => Promise.resolve(users()),
    check: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

function print(row: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...row, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

async function commit(): Promise<void> {
  const n = input.members;
  const config = parseConfig(
    JSON.stringify({
      database: { url: input.databaseUrl },
      providers: { bench: { type: "csv", path: "/nonexistent" } },
      mappings: [
        {
          name: "bench-100k",
          provider: "bench",
          users: "students",
          product: "bench",
          safety: { maxRemovals: 1_000_000, maxRemovalPercent: 100 },
        },
      ],
      events: { sinks: [{ type: "queue", name: "roster-events" }] },
    }),
    "bench.yaml",
    {},
  );
  const mapping = config.mappings[0]!;
  const logger = createLogger({ level: "warn" });
  const db = await openDatabase(input.databaseUrl!, { owner: "roster-sync bench" });
  try {
    const ctx = { db, logger, sinks: ["queue:roster-events"] };
    for (const [row, roster] of [
      ["initial", () => Array.from({ length: n }, (_, i) => user(i))],
      ["steady", () => changedRoster(n, user)],
    ] as const) {
      const cache = new FetchCache(stubProvider(roster));
      const started = performance.now();
      const summary = await runMapping(mapping, cache, ctx);
      const wallMs = performance.now() - started;
      if (summary.status !== "succeeded") {
        throw new Error(`${row} run ${summary.status}: ${summary.error}`);
      }
      print({
        row,
        wallMs,
        members: summary.members,
        added: summary.added,
        removed: summary.removed,
        updated: summary.updated,
      });
    }
  } finally {
    await db.close();
  }
}

function member(i: number, version = 0): Member {
  const u = user(i, version);
  return {
    key: u.sourcedId,
    sourcedId: u.sourcedId,
    role: u.role,
    username: u.username ?? null,
    email: u.email ?? null,
    givenName: u.givenName ?? null,
    familyName: u.familyName ?? null,
    grades: u.grades,
    orgs: u.orgs,
  };
}

/** The baseline: the obvious diff, comparing whole members by their JSON. Same output shape. */
function naiveDiff(previous: ReadonlyMap<string, Member>, current: ReadonlyMap<string, Member>): Diff {
  const diff: Diff = { added: [], removed: [], updated: [] };
  for (const [key, m] of current) {
    const before = previous.get(key);
    if (!before) {
      diff.added.push(m);
    } else if (JSON.stringify(before) !== JSON.stringify(m)) {
      diff.updated.push({ member: m, changed: [] });
    }
  }
  for (const [key, m] of previous) {
    if (!current.has(key)) {
      diff.removed.push(m);
    }
  }
  const byKey = (a: Member, b: Member) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  diff.added.sort(byKey);
  diff.removed.sort(byKey);
  diff.updated.sort((a, b) => byKey(a.member, b.member));
  return diff;
}

function diff(): void {
  const n = input.members;
  const previous = new Map<string, Member>();
  for (let i = 0; i < n; i += 1) {
    previous.set(`stu-${pad(i)}`, member(i));
  }
  const current = new Map<string, Member>();
  const gone = Math.floor(n / 200);
  for (let i = gone; i < n + gone; i += 1) {
    const m = member(i, i % 100 === 1 ? 1 : 0);
    current.set(m.key, m);
  }
  const time = (fn: () => Diff): { ms: number; diff: Diff } => {
    const started = performance.now();
    const result = fn();
    return { ms: performance.now() - started, diff: result };
  };
  // The median of three of each, alternating, so that neither gets the warm-up or a GC pause alone.
  const ours: number[] = [];
  const naive: number[] = [];
  let counts = {};
  for (let round = 0; round < 3; round += 1) {
    const a = time(() => diffMembers(previous, current));
    const b = time(() => naiveDiff(previous, current));
    ours.push(a.ms);
    naive.push(b.ms);
    counts = { added: a.diff.added.length, removed: a.diff.removed.length, updated: a.diff.updated.length };
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[1]!;
  print({ row: "diff", wallMs: median(ours), baselineWallMs: median(naive), members: n, ...counts });
}

if (command === "commit") {
  await commit();
} else if (command === "diff") {
  diff();
} else {
  throw new Error(`usage: bench/store.ts commit|diff '<json>'`);
}
