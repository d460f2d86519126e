// `roster-sync worker` (SPEC §1, §8): wires the queue, the sync processor, the schedulers, the
// relay loop and the HTTP endpoints together (signals.ts maps signals onto shutdown and reload).
//
// Shutdown (SIGTERM/SIGINT): no new jobs are taken; runs in progress get `worker.shutdownGraceMs`
// to finish. Past it they are cancelled (they commit nothing) and the worker closes with force:
// their jobs' locks lapse and another worker takes them up after its next stalled check. Then the
// relay, the HTTP server, the database, the lock session and Redis are closed; exit code 0.
// A second SIGTERM/SIGINT exits at once with 128 + the signal's number (143 / 130).
// SIGHUP reloads the config file: a bad file is logged and the old config kept; otherwise new jobs
// use the new config, the schedulers are reconciled and the relay takes the new sinks. Runs in
// progress finish with the config they started with. `database`, `redis` and the worker's lock,
// stalled-check and relay intervals need a restart.
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { createSyncProcessor, type SyncJobResult } from "../../jobs/sync-mapping.js";
import { startRelayLoop } from "../../jobs/relay-events.js";
import { QUEUE_NAME, type SyncJobData } from "../app/sync-job.js";
import type { Config } from "../config/schema.js";
import { RosterSyncError } from "../errors.js";
import type { Logger } from "../log.js";
import { createProviderRuntime, type ProviderRuntime } from "../providers/runtime.js";
import { openDatabase } from "../store/db.js";
import { createLocks } from "../store/locks.js";
import { SECOND } from "../util/time.js";
import { createMetrics, healthChecks, startHttpServer, withTimeout, type HttpServer } from "./http.js";
import { assertSchedulable, RECONCILE_INTERVAL_MS, reconcileSchedulers } from "./schedules.js";

export interface WorkerOptions {
  config: Config;
  /** Reads the config file again (SIGHUP); throws ConfigError for a bad one. */
  reloadConfig: () => Config;
  logger: Logger;
  metrics: { host: string; port: number };
  /** Default "roster-sync worker": shown to another process that finds the embedded database held. */
  owner?: string;
  /** Default: a runtime of the worker's own, closed at shutdown. */
  providers?: ProviderRuntime;
}

export interface RosterWorker {
  /** http://HOST:PORT of /healthz and /metrics. */
  readonly metricsUrl: string;
  readonly config: Config;
  /** Resolves after the first reconcile of the schedulers (retried in the background until Redis answers). */
  readonly ready: Promise<void>;
  /** SIGHUP: true when the new config was taken. */
  reload(): Promise<boolean>;
  /** SIGTERM/SIGINT: idempotent; resolves when everything is closed. */
  shutdown(): Promise<void>;
}

/** Bound on every close step, so that a dead Redis or database cannot hold the exit up. */
const CLOSE_TIMEOUT_MS = 5 * SECOND;

export async function startWorker(options: WorkerOptions): Promise<RosterWorker> {
  const { logger } = options;
  let config = options.config;
  assertSchedulable(config);
  const db = await openDatabase(config.database.url, { owner: options.owner ?? "roster-sync worker" });
  const locks = createLocks(config.database.url, logger);
  const { registry, observer } = createMetrics(db, logger);
  // One per process, for every run of every mapping: each provider's rate and concurrency cap
  // hold across overlapping runs; a reload's changed provider gets a fresh budget on its next run.
  const providers = options.providers ?? createProviderRuntime();
  const throttle = throttledLog(logger);

  // BullMQ needs maxRetriesPerRequest: null: commands wait for a reconnect instead of failing.
  const connection = new Redis(config.redis.url, { maxRetriesPerRequest: null });
  connection.on("error", (error: Error) => throttle("redis", error, "Redis connection error"));
  const base = { connection, prefix: config.redis.prefix };
  const queue = new Queue<SyncJobData>(QUEUE_NAME, base);
  queue.on("error", (error) => throttle("queue", error, "queue error"));

  const relay = startRelayLoop({
    db,
    locks,
    logger,
    redis: config.redis,
    sinks: config.sinks,
    intervalMs: config.worker.relayIntervalMs,
    observer,
  });
  const processor = createSyncProcessor({
    config: () => config,
    db,
    locks,
    logger,
    observer,
    onCommitted: () => relay.kick(),
    providers,
  });
  const inFlight = new Set<Promise<SyncJobResult>>();
  const worker = new Worker<SyncJobData, SyncJobResult>(
    QUEUE_NAME,
    (job, token, signal) => {
      const p = processor(job, token, signal);
      inFlight.add(p);
      void p.catch(() => undefined).finally(() => inFlight.delete(p));
      return p;
    },
    {
      ...base,
      concurrency: config.worker.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      // The processor fails a job stalled `worker.maxStalledCount` times, with a history row, for
      // scheduled and manual jobs alike (createSyncProcessor). BullMQ's own check fails manual jobs
      // only, without a row; it is kept out of the way.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      autorun: false,
    },
  );
  worker.on("error", (error) => throttle("worker", error, "worker error"));
  worker.on("failed", (job, error) =>
    logger.warn(
      { mapping: job?.data.mapping, jobId: job?.id, err: { message: error.message } },
      "sync job failed",
    ),
  );
  worker.on("stalled", (jobId) =>
    logger.warn({ jobId }, "sync job stalled: its worker died; taken up again"),
  );

  let stopping = false;
  let lastReconcile: { at: number; ok: boolean; unscheduled: string[]; error?: string } | undefined;
  let reconciling: Promise<void> = Promise.resolve();
  const reconcile = (why: string): Promise<void> => {
    const next = reconciling.then(async () => {
      if (stopping) {
        return;
      }
      try {
        const result = await reconcileSchedulers(queue, config, logger);
        lastReconcile = {
          at: Date.now(),
          ok: result.errors.length === 0 && result.unscheduled.length === 0,
          unscheduled: result.unscheduled,
        };
        if (result.upsert.length + result.remove.length > 0) {
          logger.info(
            { why, upserted: result.upsert.map((s) => s.id), removed: result.remove },
            "schedules reconciled",
          );
        }
      } catch (error) {
        lastReconcile = {
          at: Date.now(),
          ok: false,
          unscheduled: config.mappings.map((m) => m.name),
          error: (error as Error).message,
        };
        throw error;
      }
    });
    reconciling = next.catch(() => undefined); // one failure must not block the next reconcile
    return next;
  };
  // After a reconnect: a Redis that restarted without its data lost the schedulers.
  let connectedOnce = false;
  connection.on("ready", () => {
    if (connectedOnce) {
      reconcile("Redis reconnected").catch((e: Error) => throttle("reconcile", e, "reconcile failed"));
    }
    connectedOnce = true;
  });
  const reconcileTimer = setInterval(() => {
    reconcile("periodic check").catch((e: Error) => throttle("reconcile", e, "reconcile failed"));
  }, RECONCILE_INTERVAL_MS);

  const health = healthChecks(connection, db, () => ({
    worker: { ok: worker.isRunning() && !stopping, concurrency: worker.concurrency },
    scheduler: {
      ok: lastReconcile?.ok === true,
      lastReconciledAt: lastReconcile ? new Date(lastReconcile.at).toISOString() : null,
      // A configured mapping that is not scheduled never runs: the worker is not healthy (SPEC §8).
      ...(lastReconcile?.unscheduled.length ? { unscheduled: lastReconcile.unscheduled } : {}),
      ...(lastReconcile?.error ? { error: lastReconcile.error } : {}),
    },
    relay: { ok: true, lastPassAt: relay.lastPassAt ? new Date(relay.lastPassAt).toISOString() : null },
  }));
  let reloading: Promise<boolean> = Promise.resolve(true);
  const reload = (): Promise<boolean> => {
    const next = reloading.then(async () => {
      if (stopping) {
        return false;
      }
      let fresh: Config;
      try {
        fresh = options.reloadConfig();
      } catch (error) {
        logger.error(
          { err: { message: (error as Error).message } },
          "config reload failed: keeping the old one",
        );
        return false;
      }
      for (const key of ["database", "redis"] as const) {
        if (JSON.stringify(fresh[key]) !== JSON.stringify(config[key])) {
          logger.warn({ key }, `config reload: ${key} changed; it takes effect after a restart`);
          fresh = { ...fresh, [key]: config[key] };
        }
      }
      for (const key of ["lockDurationMs", "stalledIntervalMs", "relayIntervalMs"] as const) {
        if (fresh.worker[key] !== config.worker[key]) {
          logger.warn({ key: `worker.${key}` }, "config reload: this takes effect after a restart");
        }
      }
      config = fresh;
      for (const warning of fresh.warnings) {
        logger.warn({ keyPath: warning.keyPath }, `config: ${warning.message}`);
      }
      worker.concurrency = config.worker.concurrency;
      providers.update(config.providers);
      await relay.setSinks(config.sinks);
      logger.info({ mappings: config.mappings.map((m) => m.name) }, "config reloaded");
      await reconcile("config reloaded").catch((e: Error) => throttle("reconcile", e, "reconcile failed"));
      return true;
    });
    reloading = next.catch(() => false);
    return next;
  };

  let http: HttpServer | undefined;
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      stopping = true;
      clearInterval(reconcileTimer);
      const grace = config.worker.shutdownGraceMs;
      logger.info({ running: inFlight.size, graceMs: grace }, "shutting down: taking no new jobs");
      await settle(worker.pause(true), "pausing the worker");
      const finished = await settlesWithin(Promise.allSettled([...inFlight]), grace);
      if (!finished) {
        logger.warn(
          { running: inFlight.size },
          "grace period over: releasing runs in progress to another worker",
        );
        worker.cancelAllJobs("worker shutting down");
      }
      await settle(worker.close(!finished), "closing the worker");
      if (!options.providers) {
        await settle(providers.close(), "closing the providers");
      }
      await settle(relay.stop(), "stopping the relay");
      await settle(queue.close(), "closing the queue");
      await settle(http?.close() ?? Promise.resolve(), "closing the HTTP server");
      await settle(db.close(), "closing the database");
      await settle(locks.close(), "closing the lock session");
      connection.disconnect();
      logger.info("worker stopped");
    })();
    return closing;
  };

  async function settle(step: Promise<unknown>, what: string): Promise<void> {
    try {
      await withTimeout(step, CLOSE_TIMEOUT_MS, what);
    } catch (error) {
      logger.warn({ err: { message: (error as Error).message } }, `shutdown: ${what} failed`);
    }
  }

  try {
    http = await startHttpServer({ ...options.metrics, registry, health, logger });
  } catch (error) {
    await shutdown(); // e.g. METRICS_PORT in use: close what was opened, then report it
    const { host, port } = options.metrics;
    throw new RosterSyncError(
      "USAGE",
      `cannot serve /metrics on ${host}:${port}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  worker
    .run()
    .catch((error: Error) => logger.error({ err: { message: error.message } }, "worker loop failed"));
  const ready = reconcile("start").catch((error: Error) => {
    throttle("reconcile", error, "reconcile failed; retried every 30 s");
  });
  logger.info(
    {
      queue: QUEUE_NAME,
      prefix: config.redis.prefix,
      mappings: config.mappings.length,
      concurrency: config.worker.concurrency,
      locks: locks.kind,
      metrics: http.url,
    },
    "worker started",
  );

  return {
    metricsUrl: http.url,
    get config() {
      return config;
    },
    ready,
    reload,
    shutdown,
  };
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The same error from one source is logged at most once a minute (Redis down repeats it). */
function throttledLog(logger: Logger): (source: string, error: Error, message: string) => void {
  const last = new Map<string, number>();
  return (source, error, message) => {
    if (Date.now() - (last.get(source) ?? -Infinity) >= 60 * SECOND) {
      last.set(source, Date.now());
      logger.warn({ source, err: { message: error.message } }, message);
    }
  };
}
