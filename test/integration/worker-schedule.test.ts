// `roster-sync worker` (the BUILT CLI) on the shared Redis and a PostgreSQL database of this file's
// own: schedules produce runs, /healthz and /metrics answer, SIGHUP reconciles the schedulers.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { listRuns } from "../../src/store/index.js";
import { HOUR } from "../../src/util/time.js";
import { QUEUE_NAME } from "../../src/app/sync-job.js";
import { everyOffset, reconcileSchedulers } from "../../src/worker/schedules.js";
import { parseConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";
import { parsePrometheusText } from "../helpers/prometheus.js";
import {
  spawnWorker,
  testPrefix,
  waitFor,
  workerConfigYaml,
  writeWorkerConfig,
  type WorkerConfigOptions,
  useWorkerFixture,
} from "../helpers/worker.js";

const suite = useWorkerFixture("worker-schedule");

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

type Options = Omit<WorkerConfigOptions, "databaseUrl" | "redisUrl" | "prefix" | "sandboxUrl" | "eventsPath">;

async function setup(options: Options) {
  const prefix = testPrefix();
  suite.prefixes.push(prefix);
  const file = path.join(suite.dir, `${prefix.slice(1, -1)}.yaml`);
  const write = (o: Options) =>
    writeWorkerConfig(file, {
      databaseUrl: suite.testDb.url,
      redisUrl: suite.redisUrl,
      prefix,
      sandboxUrl: suite.sandbox.url,
      eventsPath: `./${prefix.slice(1, -1)}.ndjson`,
      ...o,
    });
  await write(options);
  const connection = new Redis(suite.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection, prefix });
  closers.push(async () => {
    await queue.close();
    connection.disconnect();
  });
  const worker = await spawnWorker(file, { cwd: suite.dir });
  suite.workers.push(worker);
  return {
    prefix,
    file,
    write,
    queue,
    worker,
    eventsFile: path.join(suite.dir, `${prefix.slice(1, -1)}.ndjson`),
  };
}

describe("scheduling", () => {
  it("a new every: mapping runs at once; reconciling again changes nothing: unchanged schedulers keep their next run", async () => {
    const prefix = testPrefix();
    suite.prefixes.push(prefix);
    const connection = new Redis(suite.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix });
    closers.push(async () => {
      await queue.close();
      connection.disconnect();
    });
    const yaml = workerConfigYaml({
      databaseUrl: suite.testDb.url,
      redisUrl: suite.redisUrl,
      prefix,
      sandboxUrl: suite.sandbox.url,
      eventsPath: "./unused.ndjson",
      timezone: "America/New_York",
      mappings: [
        { name: "interval", schedule: { every: "15m" } },
        { name: "nightly", schedule: "30 2 * * *" },
      ],
    });
    const config = parseConfig(yaml, "test.yaml", {});
    const logger = createLogger({ level: "silent" });
    const first = await reconcileSchedulers(queue, config, logger);
    expect(first.upsert.map((x) => x.id)).toEqual(["interval", "nightly"]);
    // The new `every:` mapping's first run is queued at once; the cron one waits for 02:30.
    const waiting = async () => (await queue.getWaiting()).map((j) => j.data as unknown);
    expect(await waiting()).toEqual([{ mapping: "interval", trigger: "schedule" }]);
    const next = async () => Object.fromEntries((await queue.getJobSchedulers()).map((x) => [x.key, x.next]));
    const before = await next();
    const second = await reconcileSchedulers(queue, config, logger);
    expect([second.upsert, second.remove, second.unchanged]).toEqual([[], [], ["interval", "nightly"]]);
    expect(await next()).toEqual(before);
    expect(await waiting()).toHaveLength(1);
    // The cron scheduler fires at 02:30 in New York.
    const nightly = new Date(before.nightly!);
    expect(nightly.toLocaleTimeString("en-GB", { timeZone: "America/New_York" })).toBe("02:30:00");
  });

  it("a schedule of every: 1s produces runs in the history, and their events reach the sink", async () => {
    const { worker, eventsFile } = await setup({
      mappings: [{ name: "every-second", schedule: { every: "1s" } }],
    });
    const runs = await waitFor(
      async () => {
        const found = await listRuns(suite.db, { mapping: "every-second", limit: 100 });
        return found.length >= 3 && found;
      },
      { timeoutMs: 20_000, what: "3 runs of every-second" },
    );
    expect(runs.every((r) => r.status === "succeeded" && r.trigger === "schedule")).toBe(true);
    const first = runs[runs.length - 1]!;
    expect(first.added).toBeGreaterThan(50);
    const lines = await waitFor(
      async () => {
        const text = await readFile(eventsFile, "utf8").catch(() => "");
        const n = text.split("\n").filter(Boolean).length;
        return n >= first.added && n;
      },
      { timeoutMs: 10_000, what: "the first run's events in the file sink" },
    );
    expect(lines).toBe(first.added);

    // /healthz: everything reachable and running.
    const health = await fetch(`${worker.metricsUrl}/healthz`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.ok).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(["database", "redis", "relay", "scheduler", "worker"]);

    // /metrics: valid Prometheus text with the metrics SPEC §8 and issue 3 ask for.
    const res = await fetch(`${worker.metricsUrl}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(await res.text());
    for (const name of [
      "roster_sync_runs_total",
      "roster_sync_run_duration_seconds",
      "roster_sync_members",
      "roster_sync_events_total",
      "roster_sync_event_deliveries",
      "roster_sync_outbox_backlog",
      "roster_sync_events_delivered_total",
      "roster_sync_provider_requests_total",
      "roster_sync_provider_retries_total",
      "roster_sync_provider_rate_limited_total",
      "roster_sync_skipped_triggers_total",
      "roster_sync_job_failures_total",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    const value = (family: string, labels: Record<string, string>) =>
      families.get(family)!.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(
      value("roster_sync_runs_total", { mapping: "every-second", status: "succeeded" }),
    ).toBeGreaterThanOrEqual(3);
    expect(value("roster_sync_members", { mapping: "every-second" })).toBe(first.added);
    expect(value("roster_sync_events_total", { mapping: "every-second", type: "add" })).toBe(first.added);
    expect(value("roster_sync_provider_requests_total", { provider: "sandbox" })).toBeGreaterThan(0);
    expect(families.get("roster_sync_run_duration_seconds")!.type).toBe("histogram");

    await worker.stop();
    expect((await worker.exited).code).toBe(0);
  });

  it("SIGHUP reloads the config: a changed schedule is updated, a removed mapping's scheduler goes", async () => {
    const v1: Options = {
      mappings: [
        { name: "kept", schedule: { every: "1h" } },
        { name: "dropped", schedule: { every: "1h" } },
      ],
    };
    const { write, queue, worker } = await setup(v1);
    const schedulers = async () =>
      Object.fromEntries(
        (await queue.getJobSchedulers()).map((s) => [
          s.key,
          { every: s.every, offset: s.offset, pattern: s.pattern, tz: s.tz },
        ]),
      );
    await waitFor(async () => Object.keys(await schedulers()).length === 2 || undefined, {
      what: "the two schedulers",
    });
    const hourly = (name: string) => ({
      every: HOUR,
      offset: everyOffset(name, HOUR),
      pattern: undefined,
      tz: undefined,
    });
    expect(await schedulers()).toEqual({ kept: hourly("kept"), dropped: hourly("dropped") });

    await write({
      timezone: "Europe/Paris",
      mappings: [
        { name: "kept", schedule: { every: "2h" } },
        { name: "added", schedule: "0 3 * * 1-5" },
      ],
    });
    worker.child.kill("SIGHUP");
    await worker.waitForLog((l) => l.msg === "config reloaded", 10_000, "'config reloaded'");
    const wanted = {
      kept: { every: 2 * HOUR, offset: everyOffset("kept", 2 * HOUR), pattern: undefined, tz: undefined },
      added: { every: undefined, offset: 0, pattern: "0 3 * * 1-5", tz: "Europe/Paris" },
    };
    await waitFor(async () => isDeepStrictEqual(await schedulers(), wanted) || undefined, {
      timeoutMs: 10_000,
      what: "the reconciled schedulers",
    }).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await schedulers())}`);
    });
    // The changed scheduler has its next job: no run is lost to the change.
    expect((await queue.getJobScheduler("kept"))?.next).toBeGreaterThan(0);

    // A bad file is logged and the running config kept.
    const file = worker.child.spawnargs[worker.child.spawnargs.length - 1]!;
    await writeFile(file, `${await readFile(file, "utf8")}\nunknown_key: 1\n`);
    worker.child.kill("SIGHUP");
    const failed = await worker.waitForLog(
      (l) => l.msg.startsWith("config reload failed"),
      10_000,
      "reload failure",
    );
    expect(JSON.stringify(failed)).toContain("unknown_key");
    expect(await schedulers()).toEqual(wanted);
    expect((await fetch(`${worker.metricsUrl}/healthz`)).status).toBe(200);

    await worker.stop();
    expect((await worker.exited).code).toBe(0);
  });
});
