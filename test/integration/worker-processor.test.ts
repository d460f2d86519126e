// The "sync" job processor in process, on PostgreSQL and the sandbox: what it does with a lock held
// elsewhere, with permanent and transient failures, and when its lock's session dies mid-run.
import { UnrecoverableError, type Job } from "bullmq";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSyncProcessor } from "../../jobs/sync-mapping.js";
import { parseConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { DatabaseError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { listRuns, openDatabase, type Database } from "../../src/store/index.js";
import { createLocks, mappingLock, type Locks } from "../../src/store/locks.js";
import type { SyncJobData } from "../../src/app/sync-job.js";
import { createPostgresDatabase, type TestDatabase } from "../helpers/database.js";
import { waitFor, workerConfigYaml, type WorkerMapping } from "../helpers/worker.js";

const logger = createLogger({ level: "silent" });
let sandbox: Sandbox;
let testDb: TestDatabase;
let db: Database;
let locks: Locks;
let elsewhere: Locks;

beforeAll(async () => {
  [sandbox, testDb] = await Promise.all([startSandbox({ port: 0 }), createPostgresDatabase()]);
  db = await openDatabase(testDb.url, { owner: "worker-processor test" });
  locks = createLocks(testDb.url, logger);
  elsewhere = createLocks(testDb.url, logger); // another worker's lock session
});

afterAll(async () => {
  await Promise.all([locks?.close(), elsewhere?.close()]);
  await db?.close();
  await Promise.all([sandbox?.close(), testDb?.drop()]);
});

function configWith(
  mappings: WorkerMapping[],
  rateLimit?: { requestsPerSecond: number; concurrency: number },
): Config {
  const yaml = workerConfigYaml({
    rateLimit,
    databaseUrl: testDb.url,
    redisUrl: "redis://127.0.0.1:1",
    prefix: "{unused}",
    sandboxUrl: sandbox.url,
    mappings,
    eventsPath: "./unused.ndjson",
  });
  return parseConfig(yaml, "test.yaml", {});
}

function job(mapping: string): Job<SyncJobData> {
  return {
    id: `repeat:${mapping}:1`,
    data: { mapping },
    repeatJobKey: mapping,
    opts: { attempts: 3 },
    attemptsMade: 0,
  } as never;
}

function processorFor(
  mappings: WorkerMapping[],
  rateLimit?: { requestsPerSecond: number; concurrency: number },
) {
  const config = configWith(mappings, rateLimit);
  return createSyncProcessor({ config: () => config, db, locks, logger });
}

describe("the sync processor", () => {
  it("skips a trigger while another worker holds the mapping's lock, and runs once it is free", async () => {
    const run = processorFor([{ name: "held", schedule: { every: "1h" } }]);
    const lease = await elsewhere.tryAcquire(mappingLock("held"));
    expect(lease).toBeDefined();
    expect(await run(job("held"))).toEqual({ skipped: true, mapping: "held", reason: "run in progress" });
    expect(await listRuns(db, { mapping: "held" })).toEqual([]);
    await lease!.release();
    const result = await run(job("held"));
    expect(result).toMatchObject({ skipped: false, mapping: "held", status: "succeeded" });
    expect((await listRuns(db, { mapping: "held" })).map((r) => r.trigger)).toEqual(["schedule"]);
    expect(locks.held()).toEqual([]);
  });

  it("skips a job whose mapping left the config", async () => {
    const run = processorFor([{ name: "present", schedule: { every: "1h" } }]);
    expect(await run(job("absent"))).toEqual({
      skipped: true,
      mapping: "absent",
      reason: "mapping not configured",
    });
  });

  it("a permanent failure (no group matched) is an UnrecoverableError, recorded as failed", async () => {
    const run = processorFor([
      { name: "nomatch", schedule: { every: "1h" }, groups: [{ type: "classes", match: "No Such Class" }] },
    ]);
    const error = await run(job("nomatch")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/no group matched/);
    expect((await listRuns(db, { mapping: "nomatch" })).map((r) => [r.status, r.trigger])).toEqual([
      ["failed", "schedule"],
    ]);
  });

  it("a transient failure (5xx after the connector's retries) is thrown for BullMQ to retry", async () => {
    sandbox.setFaults({ fail5xxRate: 1 });
    try {
      const run = processorFor([{ name: "down", schedule: { every: "1h" } }]);
      const error = await run(job("down")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(UnrecoverableError);
      expect((await listRuns(db, { mapping: "down" })).map((r) => r.status)).toEqual(["failed"]);
    } finally {
      sandbox.setFaults({});
    }
  });

  it("concurrent runs of two mappings on one provider share its requestsPerSecond", async () => {
    // 2 runs × ~11 requests (pageSize 10) at 10 per second with a burst of 10: at least ~1.2 s
    // together, where a bucket per run would let each finish in ~0.1 s.
    const run = processorFor(
      [
        { name: "rate-a", schedule: { every: "1h" } },
        { name: "rate-b", schedule: { every: "1h" } },
      ],
      { requestsPerSecond: 10, concurrency: 4 },
    );
    sandbox.resetStats();
    const t0 = Date.now();
    const results = await Promise.all([run(job("rate-a")), run(job("rate-b"))]);
    const elapsed = Date.now() - t0;
    expect(results.map((r) => !r.skipped && r.status)).toEqual(["succeeded", "succeeded"]);
    const requests = results.reduce((n, r) => n + (r.skipped ? 0 : r.requests), 0);
    expect(requests).toBe(sandbox.stats().apiRequests); // each run counts its own requests
    expect(requests).toBeGreaterThanOrEqual(20);
    expect(elapsed).toBeGreaterThanOrEqual(((requests - 10) / 10) * 1000 - 100);
  });

  it("a run whose lock session dies mid-fetch commits nothing and fails transiently", async () => {
    sandbox.setFaults({ latencyMs: 200 });
    try {
      const run = processorFor([{ name: "orphaned", schedule: { every: "1h" } }]);
      sandbox.resetStats();
      const result = run(job("orphaned")).catch((e: unknown) => e);
      await waitFor(() => sandbox.stats().apiRequests >= 2, { timeoutMs: 10_000, what: "the fetch" });
      const admin = new pg.Client({ connectionString: testDb.url });
      await admin.connect();
      try {
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE application_name = 'roster-sync worker locks' AND datname = current_database() AND pid <> pg_backend_pid()`,
        );
      } finally {
        await admin.end();
      }
      const error = await result;
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as Error).message).toMatch(/lost the lock on mapping:orphaned/);
      expect(await listRuns(db, { mapping: "orphaned" })).toEqual([]);
    } finally {
      sandbox.setFaults({});
    }
    // The next lock request opens a new session.
    const lease = await locks.tryAcquire(mappingLock("orphaned"));
    expect(lease).toBeDefined();
    await lease!.release();
  });
});
