// `roster-sync worker` as a child process running the BUILT command line, with its JSON log lines
// parsed as they arrive, plus the pieces the worker tests share: their fixture (useWorkerFixture), a
// config writer, a poller, and the removal of a test's Redis keys.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import { stringify } from "yaml";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { openDatabase, type Database } from "../../src/store/index.js";
import { QUEUE_NAME, SYNC_JOB, SYNC_JOB_OPTIONS } from "../../src/app/sync-job.js";
import { assertBuilt, ROOT } from "./cli.js";
import { createPostgresDatabase, type TestDatabase } from "./database.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON log line so far. */
  readonly logs: LogLine[];
  /** http://127.0.0.1:PORT of /healthz and /metrics. */
  readonly metricsUrl: string;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** stderr as text, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL when it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function spawnWorker(
  configFile: string,
  options: { cwd: string; env?: Record<string, string> },
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, "bin/roster-sync.js"), "worker", "--config", configFile],
    {
      cwd: options.cwd,
      env: {
        PATH: process.env.PATH ?? "",
        LOG_LEVEL: "info",
        METRICS_PORT: "0",
        METRICS_HOST: "127.0.0.1",
        ...options.env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let text = "";
  let partial = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-200_000);
    partial += chunk.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const raw of lines) {
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        continue;
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 30_000, what = "a log line") => {
    const found = logs.find(match);
    if (found) {
      return Promise.resolve(found);
    }
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`worker ${child.pid}: no ${what} within ${timeoutMs} ms\n${text.slice(-6000)}`));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then(({ code, signal }) => {
        if (waiters.delete(waiter)) {
          clearTimeout(timer);
          reject(new Error(`worker exited (${code ?? signal}) before ${what}\n${text.slice(-6000)}`));
        }
      });
    });
  };

  const started = await waitForLog((l) => l.msg === "worker started", 60_000, "'worker started'");
  return {
    child,
    pid: child.pid!,
    logs,
    metricsUrl: String(started.metrics),
    exited,
    waitForLog,
    output: () => text,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A queue prefix of the test's own: `{rs-test-<random>}`. */
export function testPrefix(): string {
  return `{rs-test-${randomBytes(4).toString("hex")}}`;
}

/** A cron schedule that does not fire while a test runs (midnight on 1 January). */
export const NEVER = "0 0 1 1 *";

/** Adds a "sync" job for `mapping` now, as a person would (trigger "manual"); returns its id. */
export async function triggerNow(url: string, prefix: string, mapping: string): Promise<string> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection, prefix });
  try {
    const job = await queue.add(SYNC_JOB, { mapping, trigger: "manual" }, SYNC_JOB_OPTIONS);
    return job.id!;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Deletes every key under `prefix` (the test's queues, schedulers and jobs). */
export async function removeRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    for (let i = 0; i < 10_000; i += 1) {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      if (keys.length > 0) {
        await redis.del(...keys);
      }
      cursor = next;
      if (cursor === "0") {
        break;
      }
    }
  } finally {
    redis.disconnect();
  }
}

/** Polls `probe` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
  throw new Error(`timed out waiting for ${options.what}${last ? ` (last error: ${String(last)})` : ""}`);
}

export interface WorkerMapping {
  name: string;
  schedule: string | { every: string };
  /** Default: the students of school sch-01; empty: every user of the role. */
  groups?: { type: "classes" | "courses" | "schools"; match: string; matchOn?: string[] }[];
  users?: "students" | "teachers" | "users";
}

export interface WorkerConfigOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  sandboxUrl: string;
  mappings: WorkerMapping[];
  /** The file sink's path. */
  eventsPath: string;
  /** The sinks, in place of the one file sink at `eventsPath`. */
  sinks?: Record<string, unknown>[];
  worker?: Record<string, number>;
  pageSize?: number;
  /** defaults.timezone. */
  timezone?: string;
  /** The provider's rate limit. Default 500 requests per second, 4 at once. */
  rateLimit?: { requestsPerSecond: number; concurrency: number };
}

export function workerConfigYaml(o: WorkerConfigOptions): string {
  const config = {
    database: { url: o.databaseUrl },
    redis: { url: o.redisUrl, prefix: o.prefix },
    providers: {
      sandbox: {
        type: "oneroster",
        baseUrl: o.sandboxUrl,
        auth: { method: "oauth1", clientId: "sandbox-client", clientSecret: "sandbox-secret" },
        pageSize: o.pageSize ?? 10,
        rateLimit: o.rateLimit ?? { requestsPerSecond: 500, concurrency: 4 },
        retry: { limit: 2, baseDelayMs: 20, maxDelayMs: 200 },
        timeoutMs: 10_000,
      },
    },
    mappings: o.mappings.map((m) => ({
      name: m.name,
      provider: "sandbox",
      users: m.users ?? "students",
      // An empty list: no `groups` key (every user of the role).
      ...(m.groups?.length === 0 ? {} : { groups: m.groups ?? [{ type: "schools", match: "sch-01" }] }),
      product: "test-product",
      schedule: m.schedule,
    })),
    ...(o.timezone ? { defaults: { timezone: o.timezone } } : {}),
    events: { sinks: o.sinks ?? [{ type: "file", path: o.eventsPath }] },
    worker: {
      concurrency: 4,
      lockDurationMs: 2000,
      stalledIntervalMs: 1000,
      shutdownGraceMs: 10_000,
      relayIntervalMs: 200,
      ...o.worker,
    },
  };
  return `# written by test/helpers/worker.ts\n${stringify(config)}`;
}

export async function writeWorkerConfig(file: string, o: WorkerConfigOptions): Promise<void> {
  await writeFile(file, workerConfigYaml(o));
}

/** What the worker integration tests share: a sandbox, a fresh PostgreSQL database and a folder. */
export interface WorkerFixture {
  sandbox: Sandbox;
  testDb: TestDatabase;
  db: Database;
  dir: string;
}

/** What a worker test file shares: a WorkerFixture, plus the workers and queue prefixes its tests start. */
export interface WorkerSuite extends WorkerFixture {
  readonly redisUrl: string;
  /** Workers a test started: stopped after it. */
  readonly workers: WorkerProcess[];
  /** Queue prefixes a test used: their Redis keys are removed after it. */
  readonly prefixes: string[];
}

/**
 * Registers the file's hooks: before all, a sandbox, a fresh PostgreSQL database (opened as `db`)
 * and a folder; after each test, its workers stopped, its Redis keys removed and the sandbox's
 * faults reset; after all, everything closed. The fixture's fields are set once `beforeAll` ran.
 */
export function useWorkerFixture(name: string): WorkerSuite {
  const suite = { redisUrl: inject("redisUrl"), workers: [], prefixes: [] } as unknown as WorkerSuite;
  beforeAll(async () => {
    assertBuilt();
    const [sandbox, testDb, dir] = await Promise.all([
      startSandbox({ port: 0 }),
      createPostgresDatabase(),
      mkdtemp(path.join(tmpdir(), `roster-sync-${name}-`)),
    ]);
    Object.assign(suite, { sandbox, testDb, dir });
    suite.db = await openDatabase(testDb.url, { owner: `${name} test` });
  });
  afterEach(async () => {
    await Promise.all(suite.workers.splice(0).map((w) => w.stop()));
    await Promise.all(suite.prefixes.splice(0).map((p) => removeRedisKeys(suite.redisUrl, p)));
    suite.sandbox?.setFaults({});
  });
  afterAll(async () => {
    await suite.db?.close();
    await Promise.all([
      suite.sandbox?.close(),
      suite.testDb?.drop(),
      suite.dir && rm(suite.dir, { recursive: true, force: true }),
    ]);
  });
  return suite;
}
