// `roster-sync worker` (the BUILT CLI) on a private Redis that the test stops and starts again
// (empty: it persists nothing, so the schedulers are gone too): /healthz turns 503 while Redis is
// down, and the worker reconnects, puts its schedulers back and carries on.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { listRuns, openDatabase, type Database } from "../../src/store/index.js";
import { assertBuilt } from "../helpers/cli.js";
import { createPostgresDatabase, type TestDatabase } from "../helpers/database.js";
import { startPrivateRedis, type PrivateRedis } from "../helpers/redis.js";
import {
  spawnWorker,
  testPrefix,
  waitFor,
  writeWorkerConfig,
  type WorkerProcess,
} from "../helpers/worker.js";

let sandbox: Sandbox;
let testDb: TestDatabase;
let db: Database;
let dir: string;
let redis: PrivateRedis;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  assertBuilt();
  [sandbox, testDb, dir, redis] = await Promise.all([
    startSandbox({ port: 0 }),
    createPostgresDatabase(),
    mkdtemp(path.join(tmpdir(), "roster-sync-worker-redis-")),
    startPrivateRedis(),
  ]);
  db = await openDatabase(testDb.url, { owner: "worker-redis test" });
});

afterAll(async () => {
  await worker?.stop();
  await db?.close();
  await Promise.all([
    sandbox?.close(),
    testDb?.drop(),
    redis?.close(),
    dir && rm(dir, { recursive: true, force: true }),
  ]);
});

async function health(): Promise<{
  status: number;
  body: { ok: boolean; checks: Record<string, { ok: boolean }> };
}> {
  const res = await fetch(`${worker!.metricsUrl}/healthz`);
  return { status: res.status, body: (await res.json()) as never };
}

describe("Redis restarted while the worker runs", () => {
  it("healthz says 503 while Redis is down; the worker reconnects, restores its schedulers and carries on", async () => {
    const file = path.join(dir, "sync.config.yaml");
    await writeWorkerConfig(file, {
      databaseUrl: testDb.url,
      redisUrl: redis.url,
      prefix: testPrefix(),
      sandboxUrl: sandbox.url,
      mappings: [{ name: "through-restart", schedule: { every: "1s" } }],
      eventsPath: "./events.ndjson",
    });
    worker = await spawnWorker(file, { cwd: dir });
    const runs = () => listRuns(db, { mapping: "through-restart", limit: 1000 });
    await waitFor(async () => (await runs()).length >= 2, {
      timeoutMs: 20_000,
      what: "2 runs before the restart",
    });
    expect((await health()).status).toBe(200);

    await redis.stop();
    const down = await waitFor(
      async () => {
        const h = await health();
        return h.status === 503 && h;
      },
      { timeoutMs: 10_000, what: "/healthz 503" },
    );
    expect(down.body.ok).toBe(false);
    expect(down.body.checks.redis!.ok).toBe(false);
    expect(down.body.checks.database!.ok).toBe(true);

    await redis.start();
    const restartedAt = new Date();
    const after = await waitFor(
      async () => {
        const fresh = (await runs()).filter((r) => r.startedAt > restartedAt);
        return fresh.length >= 2 && fresh;
      },
      { timeoutMs: 30_000, what: "2 runs after the restart" },
    );
    expect(after.every((r) => r.status === "succeeded" && r.trigger === "schedule")).toBe(true);
    await waitFor(async () => (await health()).status === 200, {
      timeoutMs: 10_000,
      what: "/healthz 200 again",
    });
    expect(worker.logs.some((l) => l.why === "Redis reconnected" && l.msg === "schedules reconciled")).toBe(
      true,
    );

    await worker.stop();
    expect((await worker.exited).code).toBe(0);
  });
});
