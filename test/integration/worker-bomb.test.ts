// Issue 9, item 5, with a real worker (the BUILT CLI), real Redis and PostgreSQL: a provider that
// answers one mapping with a gzip bomb fails that mapping's run, naming the URL and the limit, while
// the worker lives on and runs its other mappings; and a run that stops its worker
// `worker.maxStalledCount` times is failed for good, with a history row, instead of taking every
// worker that picks it up down with it.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Job } from "bullmq";
import { UnrecoverableError } from "bullmq";
import { describe, expect, it } from "vitest";
import { createSyncProcessor } from "../../jobs/sync-mapping.js";
import { parseConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";
import { listRuns } from "../../src/store/index.js";
import { createLocks } from "../../src/store/locks.js";
import type { SyncJobData } from "../../src/app/sync-job.js";
import {
  NEVER,
  spawnWorker,
  testPrefix,
  triggerNow,
  useWorkerFixture,
  workerConfigYaml,
  writeWorkerConfig,
  type LogLine,
  type WorkerMapping,
} from "../helpers/worker.js";

const suite = useWorkerFixture("worker-bomb");

const BOMB_CLASS = "cls-01-0003";
const is = (msg: string, mapping: string) => (l: LogLine) => l.msg === msg && l.mapping === mapping;

async function setup(name: string, mappings: WorkerMapping[]) {
  const prefix = testPrefix();
  suite.prefixes.push(prefix);
  const file = path.join(suite.dir, `${name}.yaml`);
  await writeWorkerConfig(file, {
    databaseUrl: suite.testDb.url,
    redisUrl: suite.redisUrl,
    prefix,
    sandboxUrl: suite.sandbox.url,
    mappings,
    eventsPath: `./${name}.ndjson`,
  });
  const start = async () => {
    const worker = await spawnWorker(file, { cwd: suite.dir });
    suite.workers.push(worker);
    return worker;
  };
  return { prefix, start };
}

/** The peak resident set size of a live process, in bytes (Linux: VmHWM). */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) {
    throw new Error(`no VmHWM in /proc/${pid}/status`);
  }
  return Number(kb) * 1024;
}

describe("a gzip bomb on one mapping", () => {
  it("fails that run naming the URL and the limit; the worker lives on and runs the other mappings", async () => {
    // 2 GiB of spaces once decoded, ~2 MB on the wire, only for the bomb mapping's class.
    suite.sandbox.setFaults({ gzipBomb: { path: `^classes/${BOMB_CLASS}/students$` } });
    const { prefix, start } = await setup("bomb", [
      {
        name: "bomb",
        schedule: NEVER,
        groups: [{ type: "classes", match: BOMB_CLASS, matchOn: ["sourcedId"] }],
      },
      { name: "steady-a", schedule: NEVER, groups: [{ type: "schools", match: "sch-01" }] },
      { name: "steady-b", schedule: { every: "1s" }, groups: [{ type: "schools", match: "sch-02" }] },
    ]);
    const worker = await start();
    await triggerNow(suite.redisUrl, prefix, "bomb");
    await triggerNow(suite.redisUrl, prefix, "steady-a");

    const failed = await worker.waitForLog(
      is("sync failed for good: not retried", "bomb"),
      30_000,
      "the bomb's failure",
    );
    const url = `${suite.sandbox.url}classes/${BOMB_CLASS}/students`;
    expect(String((failed.err as { message: string }).message)).toContain(url);
    await worker.waitForLog(is("sync committed", "steady-a"), 30_000, "steady-a's run");
    // steady-b is scheduled every second: it keeps running after the bomb went off.
    const after = worker.logs.length;
    await worker.waitForLog(
      (l) => is("sync committed", "steady-b")(l) && worker.logs.indexOf(l) >= after,
      30_000,
      "a run of steady-b after the bomb",
    );

    const bombRuns = await listRuns(suite.db, { mapping: "bomb" });
    expect(bombRuns.map((r) => r.status)).toEqual(["failed"]);
    expect(bombRuns[0]!.error).toContain(url);
    expect(bombRuns[0]!.error).toContain("exceeds 67108864 bytes (64 MiB) once decoded");
    expect(bombRuns[0]!.error).toContain("providers.sandbox.maxResponseBytes");
    // Not retried: one request for the bomb's URL.
    expect(suite.sandbox.stats().byPath[`classes/${BOMB_CLASS}/students`]).toBe(1);
    expect((await listRuns(suite.db, { mapping: "steady-a" })).map((r) => r.status)).toEqual(["succeeded"]);
    expect((await listRuns(suite.db, { mapping: "steady-b" })).every((r) => r.status === "succeeded")).toBe(
      true,
    );

    expect(worker.child.exitCode).toBeNull();
    expect((await fetch(`${worker.metricsUrl}/healthz`)).status).toBe(200);
    // The target, with a wide margin: the bomb unbounded took this process to 6.5 GB.
    const peak = await peakRss(worker.pid);
    console.info(`worker peak RSS (VmHWM) with a 2 GiB gzip bomb: ${Math.round(peak / 2 ** 20)} MiB`);
    expect(peak).toBeLessThan(2 ** 30);
  });
});

describe("a run that stops its worker", () => {
  it("is failed for good after worker.maxStalledCount (default 2) stalls, with a history row; the other mappings carry on", async () => {
    suite.sandbox.setFaults({ latencyMs: 100 }); // the doomed run lasts long enough to be killed in
    const { prefix, start } = await setup("stalled", [
      { name: "doomed", schedule: NEVER, groups: [{ type: "schools", match: "sch-01" }] },
      { name: "steady", schedule: { every: "1s" }, groups: [{ type: "schools", match: "sch-02" }] },
    ]);
    // SIGKILL, as the kernel's OOM killer sends it, each time the doomed run starts.
    let jobId: unknown;
    for (let stall = 0; stall < 2; stall += 1) {
      const worker = await start();
      if (stall === 0) {
        await triggerNow(suite.redisUrl, prefix, "doomed");
      }
      const started = await worker.waitForLog(
        is("sync started", "doomed"),
        30_000,
        `doomed run ${stall + 1}`,
      );
      jobId ??= started.jobId;
      expect(started.jobId).toBe(jobId);
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
    suite.sandbox.setFaults({});

    const survivor = await start();
    const gaveUp = await survivor.waitForLog(
      (l) => l.mapping === "doomed" && l.msg.startsWith("sync failed for good: the run stopped its worker"),
      30_000,
      "the doomed job's failure",
    );
    expect(gaveUp.jobId).toBe(jobId);
    expect(gaveUp.stalled).toBe(2);
    const after = survivor.logs.indexOf(gaveUp);
    await survivor.waitForLog(
      (l) => is("sync committed", "steady")(l) && survivor.logs.indexOf(l) > after,
      30_000,
      "a run of steady after the doomed job failed",
    );

    const doomed = await listRuns(suite.db, { mapping: "doomed" });
    expect(doomed.map((r) => [r.status, r.trigger])).toEqual([["failed", "manual"]]);
    expect(doomed[0]!.error).toMatch(/^the run stopped its worker 2 times .*worker\.maxStalledCount is 2/);
    expect(survivor.logs.some(is("sync started", "doomed"))).toBe(false);
    expect(survivor.child.exitCode).toBeNull();
  });

  it("a scheduled job too: BullMQ never fails a scheduler's job for stalling, the processor does", async () => {
    const logger = createLogger({ level: "silent" });
    const mappings = [{ name: "scheduled-doomed", schedule: { every: "1h" } }];
    const yaml = workerConfigYaml({
      databaseUrl: suite.testDb.url,
      redisUrl: suite.redisUrl,
      prefix: "{unused}",
      sandboxUrl: suite.sandbox.url,
      mappings,
      eventsPath: "./unused.ndjson",
      worker: { maxStalledCount: 3 },
    });
    const config = parseConfig(yaml, "test.yaml", {});
    const locks = createLocks(suite.testDb.url, logger);
    try {
      const run = createSyncProcessor({ config: () => config, db: suite.db, locks, logger });
      const job = (stalledCounter: number) =>
        ({
          id: `repeat:scheduled-doomed:${stalledCounter}`,
          data: { mapping: "scheduled-doomed" },
          repeatJobKey: "scheduled-doomed",
          opts: { attempts: 3 },
          attemptsMade: 0,
          stalledCounter,
        }) as unknown as Job<SyncJobData>;
      suite.sandbox.resetStats();
      const error = await run(job(3)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnrecoverableError);
      expect((error as Error).message).toContain("the run stopped its worker 3 times");
      expect(suite.sandbox.stats().requests).toBe(0);
      const runs = await listRuns(suite.db, { mapping: "scheduled-doomed" });
      expect(runs.map((r) => [r.status, r.trigger])).toEqual([["failed", "schedule"]]);

      // Stalled fewer times than the limit: it runs.
      expect(await run(job(2))).toMatchObject({ skipped: false, status: "succeeded" });
    } finally {
      await locks.close();
    }
  });
});
