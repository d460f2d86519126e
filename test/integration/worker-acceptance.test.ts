// The worker the way issue 3 is checked: several mappings on `every:` schedules against a OneRoster
// server, the three sinks (the `roster-events` queue, a webhook receiver, a file), roster changes
// while it runs, one SIGKILL in the middle of a run and a restart. Afterwards every sink's events,
// replayed in the order they arrived, must give each mapping exactly the roster the server now
// holds, and so must the snapshot; no run may overlap another of its mapping.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { createProvider } from "../../src/providers/index.js";
import type { SandboxChange } from "../../src/sandbox/index.js";
import { listEvents, listMembers, listRuns } from "../../src/store/index.js";
import type { RosterEvent } from "../../src/sync/events.js";
import { FetchCache, resolveMembers } from "../../src/sync/resolve.js";
import { ok, startReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import {
  spawnWorker,
  testPrefix,
  waitFor,
  writeWorkerConfig,
  type LogLine,
  type WorkerMapping,
  type WorkerProcess,
  useWorkerFixture,
} from "../helpers/worker.js";

const suite = useWorkerFixture("worker-acceptance");

const SECRET = "whsec_acceptance-7d1e";
const EVENTS_QUEUE = "roster-events";

let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startReceiver(SECRET, ok);
});

afterAll(async () => {
  await receiver?.stop();
});

/** A class by sourcedId, two sections sharing a title, a school, a course, and every teacher. */
const MAPPINGS: WorkerMapping[] = [
  {
    name: "math6-students",
    schedule: { every: "2s" },
    groups: [{ type: "classes", match: "cls-01-0003", matchOn: ["sourcedId"] }],
  },
  {
    name: "ela6-students",
    schedule: { every: "3s" },
    groups: [{ type: "classes", match: "ELA 6 (6A ELA)", matchOn: ["title"] }],
  },
  { name: "sch02-students", schedule: { every: "2s" }, groups: [{ type: "schools", match: "sch-02" }] },
  { name: "all-teachers", schedule: { every: "4s" }, users: "teachers", groups: [] },
  {
    name: "ela9-students",
    schedule: { every: "3s" },
    groups: [{ type: "courses", match: "crs-03-ela9", matchOn: ["sourcedId"] }],
  },
];

/** The roster changes, in three rounds: before the kill, while no worker runs, after the restart. */
const ROUNDS: SandboxChange[][] = [
  [
    { kind: "churn", seed: 11, classSourcedId: "cls-01-0003", adds: 2, removes: 1, updates: 1 },
    { kind: "enroll", userSourcedId: "stu-01-0002", classSourcedId: "cls-01-0001" },
    { kind: "churn", seed: 12, school: "sch-02", adds: 2, removes: 2, updates: 2, removeMode: "mixed" },
  ],
  [
    { kind: "churn", seed: 21, classTitle: "ELA 6 (6A ELA)", adds: 1, removes: 1, updates: 1 },
    { kind: "churn", seed: 22, classTitle: "ELA 9 (9A ELA)", adds: 2, removes: 1, updates: 1 },
  ],
  [
    { kind: "churn", seed: 31, classSourcedId: "cls-01-0003", adds: 1, removes: 1, updates: 0 },
    { kind: "churn", seed: 32, school: "sch-02", adds: 1, removes: 0, updates: 1, removeMode: "unenroll" },
  ],
];

interface Replayed {
  /** Member key → the user as the last event left it. */
  members: Map<string, Record<string, unknown>>;
  /** Events seen more than once (at-least-once delivery), by id. */
  duplicates: number;
}

/** Applies a sink's events in arrival order, each id once, as an idempotent consumer does. */
function replay(events: readonly RosterEvent[], mapping: string): Replayed {
  const members = new Map<string, Record<string, unknown>>();
  const seen = new Set<string>();
  let duplicates = 0;
  for (const event of events) {
    if (event.mapping !== mapping) {
      continue;
    }
    if (seen.has(event.id)) {
      duplicates += 1;
      continue;
    }
    seen.add(event.id);
    const user = event.user as Record<string, unknown>;
    const key = String(user.sourcedId);
    if (event.type === "remove") {
      members.delete(key);
    } else {
      members.set(key, user);
    }
  }
  return { members, duplicates };
}

/** What a sink's replay is compared with: key → the attributes an event carries. */
function shape(members: Map<string, Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    [...members]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, u]) => [key, [u.email, u.username, u.givenName, u.familyName, u.role]]),
  );
}

/** Each mapping's roster on the server now, resolved afresh (a new connector, nothing cached). */
async function serverRosters(config: Config): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const mapping of config.mappings) {
    const provider = createProvider(mapping.provider);
    try {
      const members = await resolveMembers(mapping, new FetchCache(provider));
      out.set(
        mapping.name,
        shape(
          new Map([...members.values()].map((m) => [m.sourcedId, m as unknown as Record<string, unknown>])),
        ),
      );
    } finally {
      await provider.close();
    }
  }
  return out;
}

/** Waits for a run of each mapping that started after `after` (so saw the server as it was then) to commit. */
async function runsSince(worker: WorkerProcess, after: number): Promise<void> {
  for (const { name } of MAPPINGS) {
    const started = await worker.waitForLog(
      (l) => l.msg === "sync started" && l.mapping === name && Number(l.time) > after,
      30_000,
      `a run of ${name} starting`,
    );
    await worker.waitForLog(
      (l: LogLine) => l.msg === "sync committed" && l.runId === started.runId,
      30_000,
      `${name}'s run ${String(started.runId)} committing`,
    );
  }
}

describe("the worker, as it will be checked", () => {
  it("several mappings, roster changes, a SIGKILL mid-run and a restart: every sink ends at the server's rosters", async () => {
    const prefix = testPrefix();
    suite.prefixes.push(prefix);
    const file = path.join(suite.dir, "acceptance.yaml");
    await writeWorkerConfig(file, {
      databaseUrl: suite.testDb.url,
      redisUrl: suite.redisUrl,
      prefix,
      sandboxUrl: suite.sandbox.url,
      mappings: MAPPINGS,
      eventsPath: "./unused.ndjson",
      sinks: [
        { type: "queue", name: EVENTS_QUEUE },
        { type: "webhook", url: receiver.url, secret: SECRET, timeoutMs: 5000 },
        { type: "file", path: "./acceptance.ndjson" },
      ],
      worker: { concurrency: 2 },
    });
    const config = loadConfigFile(file, {});
    // 1. The first worker adds every mapping's roster, then sees the first round of changes.
    const first = await spawnWorker(file, { cwd: suite.dir });
    suite.workers.push(first);
    await runsSince(first, 0);
    ROUNDS[0]!.forEach((change) => suite.sandbox.mutate(change));
    await runsSince(first, Date.now());

    // 2. Slow pages (the school's roster is a dozen of them), then SIGKILL while that run fetches.
    suite.sandbox.setFaults({ latencyMs: 400 });
    const slowFrom = Date.now();
    const started = await first.waitForLog(
      (l) => l.msg === "sync started" && l.mapping === "sch02-students" && Number(l.time) > slowFrom,
      20_000,
      "a run of sch02-students starting",
    );
    const before = suite.sandbox.stats().apiRequests;
    await waitFor(() => suite.sandbox.stats().apiRequests >= before + 2, {
      timeoutMs: 10_000,
      what: "the fetch",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    expect(first.logs.some((l) => l.msg === "sync committed" && l.runId === started.runId)).toBe(false);

    // 3. Changes while no worker runs; then the restart, and one more round.
    ROUNDS[1]!.forEach((change) => suite.sandbox.mutate(change));
    suite.sandbox.setFaults({});
    const second = await spawnWorker(file, { cwd: suite.dir });
    suite.workers.push(second);
    ROUNDS[2]!.forEach((change) => suite.sandbox.mutate(change));
    await runsSince(second, Date.now());
    // The killed run's job comes back from BullMQ's stalled check: run again, or skipped when a run
    // of its mapping is in progress.
    await second.waitForLog(
      (l) => l.jobId === started.jobId && (l.msg === "sync committed" || l.msg.startsWith("trigger skipped")),
      30_000,
      "the stalled job taken up",
    );

    // 4. Every event delivered to every sink.
    const connection = new Redis(suite.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue<RosterEvent>(EVENTS_QUEUE, { connection, prefix });
    try {
      const stored = await waitFor(
        async () => {
          const events = await listEvents(suite.db, { limit: 100_000 });
          return events.every((e) => e.deliveries.every((d) => d.state === "delivered")) && events;
        },
        { timeoutMs: 30_000, what: "every event delivered to every sink" },
      );
      await second.stop();
      expect((await second.exited).code).toBe(0);

      const ids = stored.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(stored.every((e) => e.deliveries.length === 3)).toBe(true);

      // Nothing consumes the queue here: every job waits, oldest first.
      const fromQueue = (await queue.getJobs(["waiting"], 0, -1, true)).map((j) => j.data);
      const fromFile = (await readFile(path.join(suite.dir, "acceptance.ndjson"), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RosterEvent);
      const fromWebhook = receiver.received.filter((r) => r.status === 200).map((r) => r.body);
      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
      // BullMQ keeps one job per event id: the queue holds each event exactly once.
      expect(fromQueue.map((e) => e.id).sort()).toEqual([...ids].sort());
      for (const sink of [fromFile, fromWebhook]) {
        expect([...new Set(sink.map((e) => e.id))].sort()).toEqual([...ids].sort());
      }

      // 5. Replayed, each sink gives the server's roster, as does the snapshot.
      const expected = await serverRosters(config);
      const seqOf = new Map(stored.map((e) => [e.id, e.seq]));
      for (const { name } of MAPPINGS) {
        const want = expected.get(name);
        expect(Object.keys(want ?? {}).length).toBeGreaterThan(0);
        for (const [label, events] of [
          ["queue", fromQueue],
          ["webhook", fromWebhook],
          ["file", fromFile],
        ] as const) {
          const replayed = replay(events, name);
          expect(shape(replayed.members), `${label} replay of ${name}`).toEqual(want);
          // In order per mapping: each event first arrives after those committed before it.
          const firsts = [...new Set(events.filter((e) => e.mapping === name).map((e) => e.id))];
          const seqs = firsts.map((id) => seqOf.get(id)!);
          expect(seqs, `${label} order of ${name}`).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
        }
        const snapshot = await listMembers(suite.db, name);
        expect(
          shape(new Map(snapshot.map((m) => [m.sourcedId, m as unknown as Record<string, unknown>]))),
        ).toEqual(want);

        // Runs never overlap, and none was held or left failed.
        const runs = (await listRuns(suite.db, { mapping: name, limit: 1000 })).sort(
          (a, b) => a.startedAt.getTime() - b.startedAt.getTime(),
        );
        expect(runs.every((r) => r.status === "succeeded")).toBe(true);
        for (let i = 1; i < runs.length; i += 1) {
          expect(runs[i]!.startedAt.getTime()).toBeGreaterThanOrEqual(runs[i - 1]!.finishedAt.getTime());
        }
      }
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 180_000);
});
