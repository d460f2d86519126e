// One provider runtime per process (issue 10, item 1): four overlapping runs of mappings on ONE
// Clever provider share its `requestsPerSecond` and its `concurrency`, against a sandbox that answers
// 429 above that rate, through the worker's sync processor in this process and through a real
// `roster-sync worker` (the BUILT CLI, concurrency 4, on the private Redis). Each run still counts
// its own requests, and runs of an OAuth 2 provider share one token. PostgreSQL for the history;
// the sandbox on a loopback port.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { createSyncProcessor, type SyncJobResult } from "../../jobs/sync-mapping.js";
import { parseConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { createLogger } from "../../src/log.js";
import { createProviderRuntime } from "../../src/providers/runtime.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { listRuns, openDatabase, type Database } from "../../src/store/index.js";
import { createLocks, type Locks } from "../../src/store/locks.js";
import type { SyncJobData } from "../../src/app/sync-job.js";
import { assertBuilt } from "../helpers/cli.js";
import { createPostgresDatabase, type TestDatabase } from "../helpers/database.js";
import { NEVER, removeRedisKeys, spawnWorker, testPrefix, triggerNow, waitFor } from "../helpers/worker.js";

const RATE = 5;
const logger = createLogger({ level: "silent" });
let sandbox: Sandbox;
let testDb: TestDatabase;
let db: Database;
let locks: Locks;
let dir: string;
/** When each API request arrived at the sandbox and was answered (performance.now()). */
const seen: { start: number; end: number }[] = [];

beforeAll(async () => {
  [sandbox, testDb] = await Promise.all([
    startSandbox({
      port: 0,
      seed: 7,
      schools: 4,
      studentsPerSchool: 60,
      onRequest: ({ path, durationMs }) => {
        // API requests only: not the token endpoint, nor the admin API.
        if (!path.startsWith("/oauth/") && !path.startsWith("/_sandbox")) {
          const end = performance.now();
          seen.push({ start: end - durationMs, end });
        }
      },
    }),
    createPostgresDatabase(),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), "roster-sync-provider-runtime-"));
  db = await openDatabase(testDb.url, { owner: "provider-runtime test" });
  locks = createLocks(testDb.url, logger);
});

afterAll(async () => {
  await locks?.close();
  await db?.close();
  await Promise.all([sandbox?.close(), testDb?.drop(), dir && rm(dir, { recursive: true, force: true })]);
});

function job(mapping: string): Job<SyncJobData> {
  return {
    id: `manual:${mapping}`,
    data: { mapping, trigger: "manual" },
    opts: { attempts: 1 },
    attemptsMade: 0,
    stalledCounter: 0,
  } as never;
}

/** Four mappings, one per school, on one provider (Clever unless told) with this rate limit. */
function cleverYaml(
  prefix: string,
  rateLimit: { requestsPerSecond: number; concurrency: number },
  redis = { url: "redis://127.0.0.1:1", prefix: "{unused}" },
  provider: Record<string, unknown> = {
    type: "clever",
    baseUrl: sandbox.cleverUrl,
    auth: { method: "bearer", token: sandbox.cleverToken },
  },
): string {
  return stringify({
    database: { url: testDb.url },
    redis,
    providers: {
      district: {
        ...provider,
        pageSize: 10,
        rateLimit,
        // Enough retries that the old per-run budgets would have completed, 429s and all.
        retry: { limit: 6, baseDelayMs: 50, maxDelayMs: 1000 },
        timeoutMs: 10_000,
      },
    },
    mappings: sandbox.district.schools().map((school, i) => ({
      name: `${prefix}-${i}`,
      provider: "district",
      users: "students",
      groups: [{ type: "schools", match: school.sourcedId }],
      product: "test-product",
      schedule: NEVER,
    })),
    events: { sinks: [{ type: "file", path: path.join(dir, "events.ndjson") }] },
    worker: { concurrency: 4, shutdownGraceMs: 10_000 },
  });
}

function cleverConfig(prefix: string, rateLimit: { requestsPerSecond: number; concurrency: number }): Config {
  return parseConfig(cleverYaml(prefix, rateLimit), "test.yaml", {});
}

/** Runs every mapping of `config` at once through one processor, as a worker of concurrency 4 does. */
async function runOverlapping(config: Config): Promise<{ served: number; status429: number }> {
  const providers = createProviderRuntime();
  const run = createSyncProcessor({ config: () => config, db, locks, logger, providers });
  const before = sandbox.stats();
  seen.length = 0;
  try {
    const results: SyncJobResult[] = await Promise.all(config.mappings.map((m) => run(job(m.name))));
    expect(results.map((r) => !r.skipped && r.status)).toEqual(config.mappings.map(() => "succeeded"));
  } finally {
    await providers.close();
  }
  const after = sandbox.stats();
  const served = after.apiRequests - before.apiRequests;
  expect(seen.length).toBe(served);
  // Each history row counts its own run's requests; together they are what the server saw.
  const rows = await Promise.all(config.mappings.map((m) => listRuns(db, { mapping: m.name })));
  const requests = rows.map((r) => r[0]!.requests);
  expect(requests.every((n) => n > 0)).toBe(true);
  expect(requests.reduce((a, b) => a + b, 0)).toBe(served);
  return { served, status429: after.status429 - before.status429 };
}

/** The most requests the server was answering at one time. */
function maxInFlight(requests: { start: number; end: number }[]): number {
  // An answer's end sorts before a start at the same instant: the slot was free by then.
  const edges = requests
    .flatMap((r) => [
      { at: r.start, delta: 1 },
      { at: r.end, delta: -1 },
    ])
    .sort((x, y) => x.at - y.at || x.delta - y.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.delta;
    most = Math.max(most, now);
  }
  return most;
}

describe("one provider runtime per process", () => {
  it("four overlapping runs of one Clever provider keep to its requestsPerSecond: no 429", async () => {
    const config = cleverConfig("rate", { requestsPerSecond: RATE, concurrency: 4 });
    sandbox.setFaults({ requestsPerSecond: RATE });
    let result;
    try {
      result = await runOverlapping(config);
    } finally {
      sandbox.setFaults({});
    }
    expect(result.status429).toBe(0);
    // The rate the server saw over the whole overlap (the first request spends the burst token).
    const starts = seen.map((r) => r.start);
    const seconds = (Math.max(...starts) - Math.min(...starts)) / 1000;
    const observed = (result.served - 1) / seconds;
    console.log(
      `provider runtime: ${result.served} requests in ${seconds.toFixed(2)} s = ${observed.toFixed(2)}/s, ` +
        `${result.status429} × 429 (requestsPerSecond ${RATE})`,
    );
    expect(observed).toBeLessThanOrEqual(1.1 * RATE);
  });

  it("their requests in flight keep to the provider's concurrency, not four times it", async () => {
    const config = cleverConfig("cap", { requestsPerSecond: 1000, concurrency: 2 });
    // Slow answers, so that a cap per run (2 × 4 runs) would show at the server.
    sandbox.setFaults({ latencyMs: 100 });
    let result;
    try {
      result = await runOverlapping(config);
    } finally {
      sandbox.setFaults({});
    }
    const most = maxInFlight(seen);
    console.log(`provider runtime: ${result.served} requests, at most ${most} in flight (concurrency 2)`);
    expect(most).toBeLessThanOrEqual(2);
  });

  it("four overlapping runs of one OneRoster 1.2 provider fetch one OAuth 2 token between them", async () => {
    const provider = {
      type: "oneroster",
      version: "1.2",
      baseUrl: sandbox.origin,
      auth: { method: "oauth2", clientId: sandbox.clientId, clientSecret: sandbox.clientSecret },
    };
    const yaml = cleverYaml("oauth2", { requestsPerSecond: 1000, concurrency: 4 }, undefined, provider);
    const before = sandbox.stats().tokenRequests;
    await runOverlapping(parseConfig(yaml, "test.yaml", {}));
    expect(sandbox.stats().tokenRequests - before).toBe(1);
  });

  it("a real worker (concurrency 4) running four manual jobs of one Clever provider: no 429", async () => {
    assertBuilt();
    const redisUrl = inject("redisUrl");
    const prefix = testPrefix();
    const file = path.join(dir, "worker.yaml");
    await writeFile(
      file,
      cleverYaml("worker", { requestsPerSecond: RATE, concurrency: 4 }, { url: redisUrl, prefix }),
    );
    const mappings = sandbox.district.schools().map((_, i) => `worker-${i}`);
    const worker = await spawnWorker(file, { cwd: dir });
    sandbox.setFaults({ requestsPerSecond: RATE });
    const before = sandbox.stats();
    seen.length = 0;
    try {
      await Promise.all(mappings.map((m) => triggerNow(redisUrl, prefix, m)));
      const rows = await waitFor(
        async () => {
          const runs = await Promise.all(mappings.map((m) => listRuns(db, { mapping: m })));
          return runs.every((r) => r.length > 0) && runs.map((r) => r[0]!);
        },
        { timeoutMs: 30_000, what: "a run of each mapping" },
      );
      expect(rows.map((r) => r.status)).toEqual(mappings.map(() => "succeeded"));
      const after = sandbox.stats();
      const served = after.apiRequests - before.apiRequests;
      expect(after.status429 - before.status429).toBe(0);
      expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(served);
      // The runs overlapped: each started before another finished.
      const lastStart = Math.max(...rows.map((r) => r.startedAt.getTime()));
      expect(lastStart).toBeLessThan(Math.min(...rows.map((r) => r.finishedAt!.getTime())));
      const starts = seen.map((r) => r.start);
      const observed = (served - 1) / ((Math.max(...starts) - Math.min(...starts)) / 1000);
      console.log(`provider runtime, worker: ${served} requests at ${observed.toFixed(2)}/s, 0 × 429`);
      expect(observed).toBeLessThanOrEqual(1.1 * RATE);
    } finally {
      sandbox.setFaults({});
      await worker.stop();
      await removeRedisKeys(redisUrl, prefix);
    }
  });
});
