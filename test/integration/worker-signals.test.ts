// Shutdown of `roster-sync worker` (the BUILT CLI): SIGTERM lets the run in progress finish within
// the grace period and exits 0; past the grace period the run is released (another worker takes
// its job up and completes it); a second signal exits at once.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listRuns } from "../../src/store/index.js";
import {
  NEVER,
  spawnWorker,
  testPrefix,
  triggerNow,
  writeWorkerConfig,
  type LogLine,
  type WorkerProcess,
  useWorkerFixture,
} from "../helpers/worker.js";

const suite = useWorkerFixture("worker-signals");

/** A config with one mapping, a worker on it, and one trigger by hand. */
async function setup(mapping: string, shutdownGraceMs: number) {
  const prefix = testPrefix();
  suite.prefixes.push(prefix);
  const file = path.join(suite.dir, `${mapping}.yaml`);
  await writeWorkerConfig(file, {
    databaseUrl: suite.testDb.url,
    redisUrl: suite.redisUrl,
    prefix,
    sandboxUrl: suite.sandbox.url,
    mappings: [{ name: mapping, schedule: NEVER }],
    eventsPath: "./events.ndjson",
    worker: { shutdownGraceMs },
  });
  const start = async () => {
    const worker = await spawnWorker(file, { cwd: suite.dir });
    suite.workers.push(worker);
    return worker;
  };
  const worker = await start();
  await triggerNow(suite.redisUrl, prefix, mapping);
  await worker.waitForLog(is("sync started", mapping), 20_000, "the run's start");
  return { worker, start };
}

const is = (msg: string, mapping: string) => (l: LogLine) => l.msg === msg && l.mapping === mapping;

/** Sends `signal` and measures how long the process takes to exit. */
async function signalAndTime(worker: WorkerProcess, signal: NodeJS.Signals) {
  const t0 = Date.now();
  worker.child.kill(signal);
  const exit = await worker.exited;
  return { ...exit, ms: Date.now() - t0 };
}

describe("shutdown", () => {
  it("SIGTERM: the run in progress finishes within the grace period, then exit 0", async () => {
    suite.sandbox.setFaults({ latencyMs: 150 }); // ~1.8 s of fetching
    const { worker } = await setup("graceful", 20_000);
    const exit = await signalAndTime(worker, "SIGTERM");
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(20_000);
    const order = worker.logs.map((l) => l.msg);
    expect(order.indexOf("sync committed")).toBeGreaterThan(
      order.indexOf("shutting down: taking no new jobs"),
    );
    expect(order.indexOf("worker stopped")).toBeGreaterThan(order.indexOf("sync committed"));
    const runs = await listRuns(suite.db, { mapping: "graceful" });
    expect(runs.map((r) => r.status)).toEqual(["succeeded"]);
  });

  it("SIGTERM past the grace period: exit 0 at its end; the run is released and completed by another worker", async () => {
    suite.sandbox.setFaults({ latencyMs: 600 }); // ~7 s of fetching, against a 1 s grace period
    const { worker, start } = await setup("released", 1000);
    const exit = await signalAndTime(worker, "SIGTERM");
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeGreaterThanOrEqual(1000);
    expect(exit.ms).toBeLessThan(1000 + 5000);
    expect(worker.logs.some((l) => l.msg.startsWith("grace period over"))).toBe(true);
    expect(worker.logs.some(is("sync committed", "released"))).toBe(false);
    expect(await listRuns(suite.db, { mapping: "released" })).toEqual([]);

    // Its job's lock lapses (lockDurationMs 2000) and the next worker takes it up.
    suite.sandbox.setFaults({});
    const next = await start();
    const committed = await next.waitForLog(
      is("sync committed", "released"),
      20_000,
      "the released run's commit",
    );
    expect(committed.jobId).toBe(worker.logs.find(is("sync started", "released"))!.jobId);
    expect((await listRuns(suite.db, { mapping: "released" })).map((r) => r.status)).toEqual(["succeeded"]);
  });

  it("a second signal exits at once (143 for SIGTERM, 130 for SIGINT)", async () => {
    suite.sandbox.setFaults({ latencyMs: 600 });
    const { worker: first } = await setup("impatient", 30_000);
    first.child.kill("SIGTERM");
    await first.waitForLog((l) => l.msg === "shutting down: taking no new jobs", 5000, "the shutdown");
    const exit = await signalAndTime(first, "SIGTERM");
    expect(exit.code).toBe(143);
    expect(exit.ms).toBeLessThan(1000);

    // SIGINT (Ctrl-C twice), again while a run is in progress: 130.
    const { worker: second } = await setup("impatient-int", 30_000);
    second.child.kill("SIGINT");
    await second.waitForLog((l) => l.msg === "shutting down: taking no new jobs", 5000, "the shutdown");
    const exitInt = await signalAndTime(second, "SIGINT");
    expect(exitInt.code).toBe(130);
    expect(exitInt.ms).toBeLessThan(1000);
  });
});
