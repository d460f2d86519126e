// `roster-sync sync` beside workers on one PostgreSQL database: it takes the workers' locks
// (src/store/locks.ts), so a mapping whose run is in progress elsewhere is waited for rather than
// run twice at once (SPEC §5.7), nor with a fetch older than what the other process committed, and
// a sink a worker is relaying is left to that worker.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sinkName } from "../../src/events/relay.js";
import { loadConfigFile } from "../../src/config/load.js";
import { createProvider } from "../../src/providers/index.js";
import { listEvents, listMembers, listRuns } from "../../src/store/index.js";
import { FetchCache } from "../../src/sync/resolve.js";
import { runMapping } from "../../src/sync/run.js";
import { createLocks, mappingLock, sinkLock, type Locks } from "../../src/store/locks.js";
import { parseJson, runCli, type CliResult } from "../helpers/cli.js";
import { NEVER, waitFor, writeWorkerConfig, useWorkerFixture } from "../helpers/worker.js";

const suite = useWorkerFixture("sync-locks");

let locks: Locks;
const EVENTS = "./events.ndjson";

beforeAll(async () => {
  locks = createLocks(suite.testDb.url, pino({ level: "silent" }), "sync-locks test");
  await writeWorkerConfig(path.join(suite.dir, "sync.config.yaml"), {
    databaseUrl: suite.testDb.url,
    redisUrl: "redis://127.0.0.1:1", // `sync` needs no Redis
    prefix: "{unused}",
    sandboxUrl: suite.sandbox.url,
    mappings: [
      { name: "held", schedule: NEVER },
      { name: "other", schedule: NEVER, groups: [{ type: "schools", match: "sch-02" }] },
    ],
    eventsPath: EVENTS,
  });
});

afterAll(async () => {
  await locks?.close();
});

interface SyncJson {
  runs: { mapping: string; status: string; added: number; removed: number; updated: number }[];
}

/**
 * Starts `sync MAPPING --json` while the test holds the mapping's lock; resolves once it says it is
 * waiting, with its result to come.
 */
async function syncWaitingFor(mapping: string): Promise<{ done: Promise<CliResult> }> {
  let waiting: () => void = () => undefined;
  const seenWaiting = new Promise<void>((resolve) => (waiting = resolve));
  const done = runCli(["sync", mapping, "--json"], {
    cwd: suite.dir,
    timeoutMs: 60_000,
    onStderr: (text) => {
      if (text.includes("a run of this mapping is in progress in another process")) {
        waiting();
      }
    },
  });
  await Promise.race([seenWaiting, done]);
  return { done };
}

describe("sync beside a worker", () => {
  it("waits while another process runs the mapping, then runs it", async () => {
    const lease = (await locks.tryAcquire(mappingLock("held")))!;
    expect(lease).toBeDefined();
    const result = await syncWaitingFor("held");
    expect(await listRuns(suite.db, { mapping: "held" })).toEqual([]);
    await lease.release();

    const done = await result.done;
    expect(done.code, done.stderr).toBe(0);
    const { runs } = parseJson<SyncJson>(done);
    expect(runs.map((r) => [r.mapping, r.status])).toEqual([["held", "succeeded"]]);
    expect(runs[0]!.added).toBeGreaterThan(0);
  });

  it("fetches again when another process committed the mapping while it waited: no stale remove", async () => {
    const config = loadConfigFile(path.join(suite.dir, "sync.config.yaml"), {});
    const mapping = config.mappings.find((m) => m.name === "held")!;
    // A sync of "held" now (whatever ran before): how many requests its fetch takes.
    const warm = await runCli(["sync", "held", "--json"], { cwd: suite.dir, timeoutMs: 60_000 });
    expect(warm.code, warm.stderr).toBe(0);
    const fetchRequests = (await listRuns(suite.db, { mapping: "held" }))[0]!.requests;
    const lease = (await locks.tryAcquire(mappingLock("held")))!;
    const before = suite.sandbox.stats().apiRequests;
    const result = await syncWaitingFor("held");
    // Its fetch ahead is done...
    await waitFor(() => suite.sandbox.stats().apiRequests >= before + fetchRequests, {
      timeoutMs: 20_000,
      what: "the fetch ahead",
    });
    // ...when a student joins the school, and "the worker" (holding the lock) commits a run with them.
    const change = suite.sandbox.mutate({
      kind: "churn",
      seed: 41,
      school: "sch-01",
      adds: 1,
      removes: 0,
      updates: 0,
    });
    const joined = change.added[0]!.sourcedId;
    const provider = createProvider(mapping.provider);
    try {
      const workerRun = await runMapping(
        mapping,
        new FetchCache(provider),
        { db: suite.db, logger: pino({ level: "silent" }), sinks: config.sinks.map(sinkName) },
        { trigger: "schedule" },
      );
      expect([workerRun.status, workerRun.added]).toEqual(["succeeded", 1]);
    } finally {
      await provider.close();
    }
    await lease.release();

    // The waiting sync notices the commit, fetches again and finds nothing to change.
    const done = await result.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain("another process ran this mapping meanwhile: fetching again");
    const { runs } = parseJson<SyncJson>(done);
    expect(runs.map((r) => [r.status, r.added, r.removed, r.updated])).toEqual([["succeeded", 0, 0, 0]]);
    expect((await listMembers(suite.db, "held")).some((m) => m.sourcedId === joined)).toBe(true);
  });

  it("leaves a sink another process is relaying to it, and delivers it once free", async () => {
    const sink = sinkName({ type: "file", path: EVENTS });
    const lease = (await locks.tryAcquire(sinkLock(sink)))!;
    expect(lease).toBeDefined();
    try {
      const first = await runCli(["sync", "other", "--json"], { cwd: suite.dir, timeoutMs: 60_000 });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain("sink left to the worker relaying it now");
      const events = await listEvents(suite.db, { mapping: "other", limit: 10_000 });
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.deliveries.every((d) => d.sink === sink && d.state === "pending"))).toBe(
        true,
      );
    } finally {
      await lease.release();
    }

    // Free again: the next sync (nothing new to run) delivers what waited, in order.
    const second = await runCli(["sync", "other", "--json"], { cwd: suite.dir, timeoutMs: 60_000 });
    expect(second.code, second.stderr).toBe(0);
    const events = await listEvents(suite.db, { mapping: "other", limit: 10_000 });
    expect(events.every((e) => e.deliveries.every((d) => d.state === "delivered"))).toBe(true);
    const file = path.join(suite.dir, EVENTS);
    expect(existsSync(file)).toBe(true);
    const delivered = (await readFile(file, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { id: string; mapping: string })
      .filter((e) => e.mapping === "other");
    expect(delivered.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });
});
