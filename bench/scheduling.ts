// Scheduling overhead of `roster-sync worker` (issue 3, "Performance"): N mappings on `every: 5s`
// against the sandbox, one worker (the BUILT CLI) on a private PostgreSQL and Redis. Prints one
// table: the lag from each trigger's scheduled time (its job id, `repeat:<mapping>:<ms>`) to its
// run's start (the "sync started" log line), and the worker's CPU (share of one core) and RSS.
// Baseline, measured in the same run: the same worker with one mapping that never fires.
// "Idle after load" is the loaded worker with its queue paused: between runs, 200 schedulers held.
//
//   npm run build && npx tsx bench/scheduling.ts
//   BENCH_MAPPINGS=200 BENCH_EVERY=5s BENCH_SECONDS=60 BENCH_IDLE_SECONDS=15 (defaults);
//   BENCH_DUMP=lags.json writes every run's start and lag; BENCH_NODE_OPTIONS is the worker's NODE_OPTIONS.
//
// Targets (issue 3): p99 lag under 1 s, idle CPU under 2 % of a core, idle RSS under 150 MB.
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { startSandbox } from "../src/sandbox/index.js";
import { QUEUE_NAME } from "../src/app/sync-job.js";
import setupServices from "../test/setup/services.js";
import {
  NEVER,
  spawnWorker,
  waitFor,
  writeWorkerConfig,
  type WorkerProcess,
} from "../test/helpers/worker.js";

const MAPPINGS = Number(process.env.BENCH_MAPPINGS ?? 200);
const EVERY = process.env.BENCH_EVERY ?? "5s";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 15);
// For comparisons: BENCH_NODE_OPTIONS=--max-semi-space-size=16 gives the worker V8's default young
// generation instead of the one it holds (src/worker/memory.ts).
const WORKER_ENV: Record<string, string> = process.env.BENCH_NODE_OPTIONS
  ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }
  : {};
const TICK = Number(execSync("getconf CLK_TCK").toString().trim()) || 100;
const SAMPLE_MS = 500;
const SETTLE_MS = 5000;

/** Heap figures from the worker's own /metrics (prom-client's default Node.js metrics). */
async function heap(worker: WorkerProcess): Promise<string> {
  const text = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
  const mb = (name: string) => {
    const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1];
    return value === undefined ? "?" : `${(Number(value) / 1048576).toFixed(0)} MB`;
  };
  return `${mb("nodejs_heap_size_used_bytes")} / ${mb("nodejs_heap_size_total_bytes")}, ${mb("nodejs_external_memory_bytes")}`;
}

interface Usage {
  cpuPercent: number;
  rssMedianMb: number;
  rssMaxMb: number;
}

/** CPU (share of one core) and RSS of `pid` over `seconds`, from /proc. */
async function measure(pid: number, seconds: number): Promise<Usage> {
  const cpu = async () => {
    const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICK; // utime + stime, seconds
  };
  const rss = async () =>
    Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
  const rssSamples: number[] = [];
  const t0 = Date.now();
  const c0 = await cpu();
  for (let i = 0; i < Math.ceil((seconds * 1000) / SAMPLE_MS); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    rssSamples.push(await rss());
  }
  const used = (await cpu()) - c0;
  const elapsed = (Date.now() - t0) / 1000;
  return {
    cpuPercent: (100 * used) / elapsed,
    rssMedianMb: quantile(rssSamples, 0.5),
    rssMaxMb: Math.max(...rssSamples),
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const urls: Record<string, string> = {};
  const teardown = await setupServices({
    provide: (key: string, value: string) => (urls[key] = value),
  } as never);
  const sandbox = await startSandbox({ port: 0 });
  const dir = await mkdtemp(path.join(tmpdir(), "roster-sync-bench-"));
  const dbName = `bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: urls.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const databaseUrl = urls.databaseUrl!.replace(/\/postgres$/, `/${dbName}`);
  const redisUrl = urls.redisUrl!;
  const classes = sandbox.district.classes.map((c) => c.sourcedId);
  const workers: WorkerProcess[] = [];
  const rows: string[][] = [];

  const start = async (name: string, mappings: Parameters<typeof writeWorkerConfig>[1]["mappings"]) => {
    const prefix = `{bench-${name}}`;
    const file = path.join(dir, `${name}.yaml`);
    await writeWorkerConfig(file, {
      databaseUrl,
      redisUrl,
      prefix,
      sandboxUrl: sandbox.url,
      mappings,
      eventsPath: `./${name}.ndjson`,
      pageSize: 100,
      rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
      // Production defaults, not the tests' short locks.
      worker: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 30_000, relayIntervalMs: 1000 },
    });
    const worker = await spawnWorker(file, { cwd: dir, env: WORKER_ENV });
    workers.push(worker);
    return { worker, prefix };
  };

  try {
    // Baseline: one mapping that never fires.
    const base = await start("baseline", [{ name: "never", schedule: NEVER }]);
    await base.worker.waitForLog((l) => l.msg === "schedules reconciled", 30_000);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS)); // past start-up's JIT and GC
    const idleBase = await measure(base.worker.pid, IDLE_SECONDS);
    const heapBase = await heap(base.worker);
    rows.push(["baseline: idle, 1 mapping", "1", "0", "–", "–", "–", ...usage(idleBase)]);
    await base.worker.stop();

    // Load: N mappings on every: 5s, each the students of one class.
    const mappings = Array.from({ length: MAPPINGS }, (_, i) => ({
      name: `m${String(i).padStart(4, "0")}`,
      schedule: { every: EVERY },
      groups: [{ type: "classes" as const, match: classes[i % classes.length]!, matchOn: ["sourcedId"] }],
    }));
    const load = await start("load", mappings);
    const committed = () => load.worker.logs.filter((l) => l.msg === "sync committed").length;
    // Warm-up: every mapping's first run (the one that adds its whole roster).
    await waitFor(() => committed() >= MAPPINGS, { timeoutMs: 120_000, intervalMs: 250, what: "first runs" });
    const from = Date.now();
    const busy = await measure(load.worker.pid, SECONDS);
    const to = Date.now();
    // Scheduled runs only (job id `repeat:<mapping>:<scheduled ms>`), not a new mapping's first run.
    const started = load.worker.logs.filter(
      (l) =>
        l.msg === "sync started" &&
        String(l.jobId).startsWith("repeat:") &&
        Number(l.time) >= from &&
        Number(l.time) < to,
    );
    const lags = started.map((l) => Number(l.time) - Number(String(l.jobId).split(":").pop()));
    if (process.env.BENCH_DUMP) {
      // For a closer look: each run's start time and lag.
      const dump = started.map((l, i) => ({ t: Number(l.time) - from, lag: lags[i], mapping: l.mapping }));
      await writeFile(process.env.BENCH_DUMP, JSON.stringify(dump));
    }
    const skipped = load.worker.logs.filter((l) => String(l.msg).startsWith("trigger skipped")).length;
    rows.push([
      `load: every ${EVERY}`,
      String(MAPPINGS),
      String(started.length),
      ms(quantile(lags, 0.5)),
      ms(quantile(lags, 0.99)),
      ms(Math.max(...lags)),
      ...usage(busy),
    ]);

    // Idle between runs: the same worker, its queue paused (no job is handed out), schedulers kept.
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: load.prefix });
    await queue.pause();
    await waitFor(async () => (await queue.getActiveCount()) === 0, {
      timeoutMs: 30_000,
      what: "no active job",
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const idleLoad = await measure(load.worker.pid, IDLE_SECONDS);
    const heapLoad = await heap(load.worker);
    rows.push([`idle after load (paused)`, String(MAPPINGS), "0", "–", "–", "–", ...usage(idleLoad)]);
    await queue.close();
    connection.disconnect();
    printTable(rows, skipped);
    console.log(`V8 heap used / total, external (idle): baseline ${heapBase}; after load ${heapLoad}`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await sandbox.close();
    await teardown();
    await rm(dir, { recursive: true, force: true });
  }
}

const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : "–");
const usage = (u: Usage) => [
  `${u.cpuPercent.toFixed(2)} %`,
  `${u.rssMedianMb.toFixed(0)} MB`,
  `${u.rssMaxMb.toFixed(0)} MB`,
];

function printTable(rows: string[][], skipped: number): void {
  const head = [
    "scenario",
    "mappings",
    "runs",
    "lag p50",
    "lag p99",
    "lag max",
    "CPU (1 core)",
    "RSS p50",
    "RSS max",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(
    `\nroster-sync worker scheduling (Node ${process.version}, ${SECONDS}s load, ${IDLE_SECONDS}s idle)`,
  );
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) {
    console.log(line(row));
  }
  console.log(`triggers skipped (a run of the mapping in progress): ${skipped}`);
  console.log("targets: p99 lag < 1000 ms; idle CPU < 2 %; idle RSS < 150 MB");
}

await main();
