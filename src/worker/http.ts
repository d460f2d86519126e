// The worker's HTTP endpoints (SPEC §8): GET /healthz and GET /metrics (Prometheus text) on
// METRICS_PORT. Counters are this process's (sum them across workers); the members, delivery-state
// and backlog gauges are read from the shared database at scrape time (take max across workers).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { WorkerObserver } from "../app/observer.js";
import type { Logger } from "../log.js";
import {
  deliveryCounts,
  memberCounts,
  ping,
  type DeliveryCount,
  type MemberCount,
  type StoreDb,
} from "../store/index.js";
import { SECOND } from "../util/time.js";

/** Default METRICS_PORT (SPEC §8). */
export const DEFAULT_METRICS_PORT = 9464;

export interface WorkerMetrics {
  registry: Registry;
  observer: WorkerObserver;
}

/** Database-derived gauges are cached this long, so that several scrapers cost one query. */
const DB_CACHE_MS = 5 * SECOND;

export function createMetrics(db: StoreDb, logger: Logger): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });

  const runs = counter("roster_sync_runs_total", "Sync runs finished by this worker.", ["mapping", "status"]);
  const duration = new Histogram({
    name: "roster_sync_run_duration_seconds",
    help: "Duration of sync runs, fetch to commit.",
    labelNames: ["mapping", "status"],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const events = counter("roster_sync_events_total", "Events emitted by committed runs.", [
    "mapping",
    "type",
  ]);
  const skipped = counter(
    "roster_sync_skipped_triggers_total",
    "Sync jobs skipped: a run of the mapping was in progress, or the mapping left the config.",
    ["mapping", "reason"],
  );
  const failures = counter(
    "roster_sync_job_failures_total",
    "Failed sync jobs: transient (retried with backoff) or permanent (not retried).",
    ["mapping", "kind"],
  );
  const requests = counter("roster_sync_provider_requests_total", "HTTP requests to providers.", [
    "provider",
  ]);
  const retries = counter("roster_sync_provider_retries_total", "Retried provider requests.", ["provider"]);
  const limited = counter("roster_sync_provider_rate_limited_total", "Provider responses with status 429.", [
    "provider",
  ]);
  const delivered = counter("roster_sync_events_delivered_total", "Events delivered by this worker.", [
    "sink",
  ]);
  const failedDeliveries = counter(
    "roster_sync_events_failed_total",
    "Event deliveries this worker marked failed (refused by the sink, or out of attempts).",
    ["sink"],
  );
  const relayErrors = counter("roster_sync_relay_errors_total", "Failed relay passes per sink.", ["sink"]);

  // Undefined when the database did not answer: the gauges keep their last values.
  let cached: { at: number; value: Promise<DbCounts | undefined> } | undefined;
  const counts = (): Promise<DbCounts | undefined> => {
    if (!cached || Date.now() - cached.at > DB_CACHE_MS) {
      const value = readCounts(db).catch((error: unknown) => {
        logger.warn({ err: { message: (error as Error).message } }, "metrics: database counts unavailable");
        cached = undefined;
        return undefined;
      });
      cached = { at: Date.now(), value };
    }
    return cached.value;
  };
  new Gauge({
    name: "roster_sync_members",
    help: "Members in each mapping's current snapshot.",
    labelNames: ["mapping"],
    registers: [registry],
    async collect() {
      const c = await counts();
      if (c) {
        this.reset();
        for (const m of c.members) {
          this.set({ mapping: m.mapping }, m.count);
        }
      }
    },
  });
  new Gauge({
    name: "roster_sync_event_deliveries",
    help: "Outbox deliveries by sink and state (pending, delivered, failed).",
    labelNames: ["sink", "state"],
    registers: [registry],
    async collect() {
      const c = await counts();
      if (c) {
        this.reset();
        for (const d of c.deliveries) {
          this.set({ sink: d.sink, state: d.state }, d.count);
        }
      }
    },
  });
  new Gauge({
    name: "roster_sync_outbox_backlog",
    help: "Events waiting for delivery, per sink.",
    labelNames: ["sink"],
    registers: [registry],
    async collect() {
      const c = await counts();
      if (c) {
        this.reset();
        for (const d of c.deliveries) {
          this.inc({ sink: d.sink }, d.state === "pending" ? d.count : 0);
        }
      }
    },
  });

  const observer: WorkerObserver = {
    runFinished(s) {
      runs.inc({ mapping: s.mapping, status: s.status });
      duration.observe({ mapping: s.mapping, status: s.status }, s.durationMs / SECOND);
      if (s.status === "succeeded") {
        events.inc({ mapping: s.mapping, type: "add" }, s.added);
        events.inc({ mapping: s.mapping, type: "remove" }, s.removed);
        events.inc({ mapping: s.mapping, type: "update" }, s.updated);
      }
    },
    skipped: (mapping, reason) => skipped.inc({ mapping, reason }),
    jobFailed: (mapping, kind) => failures.inc({ mapping, kind }),
    providerStats(provider, stats) {
      requests.inc({ provider }, stats.requests);
      retries.inc({ provider }, stats.retries);
      limited.inc({ provider }, stats.status429);
    },
    relayed(r) {
      delivered.inc({ sink: r.sink }, r.delivered);
      failedDeliveries.inc({ sink: r.sink }, r.failed);
      if (r.error) {
        relayErrors.inc({ sink: r.sink });
      }
    },
  };
  return { registry, observer };
}

interface DbCounts {
  members: MemberCount[];
  deliveries: DeliveryCount[];
}

async function readCounts(db: StoreDb): Promise<DbCounts> {
  const [members, deliveries] = await Promise.all([memberCounts(db), deliveryCounts(db)]);
  return { members, deliveries };
}

export interface Check {
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export type HealthChecks = Record<string, Check>;

const CHECK_TIMEOUT_MS = 2 * SECOND;

/**
 * /healthz: Redis answers a PING (and is connected: with `maxRetriesPerRequest: null` a command
 * would wait for a reconnect), the database answers `SELECT 1`, each within 2 s; plus the
 * worker's own checks (running, schedulers reconciled).
 */
export function healthChecks(
  redis: { status: string; ping(): Promise<unknown> },
  db: StoreDb,
  own: () => HealthChecks,
): () => Promise<HealthChecks> {
  const check = async (what: string, probe: () => Promise<unknown>): Promise<Check> => {
    try {
      await withTimeout(probe(), CHECK_TIMEOUT_MS, what);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  };
  return async () => {
    const [redisCheck, database] = await Promise.all([
      check("redis", async () => {
        if (redis.status !== "ready") {
          throw new Error(`Redis connection is ${redis.status}`);
        }
        await redis.ping();
      }),
      check("database", () => ping(db)),
    ]);
    return { redis: redisCheck, database, ...own() };
  };
}

export interface HttpServerOptions {
  /** 0.0.0.0 in production (METRICS_HOST); tests use 127.0.0.1. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  registry: Registry;
  /** Runs every check; /healthz answers 200 when all are ok, else 503. */
  health: () => Promise<HealthChecks>;
  logger: Logger;
}

export interface HttpServer {
  /** http://HOST:PORT */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, "text/plain", "method not allowed\n");
      return;
    }
    const answer = async (): Promise<void> => {
      if (path === "/healthz") {
        const checks = await options.health();
        const ok = Object.values(checks).every((c) => c.ok);
        send(ok ? 200 : 503, "application/json", `${JSON.stringify({ ok, checks })}\n`);
      } else if (path === "/metrics") {
        send(200, options.registry.contentType, await options.registry.metrics());
      } else {
        send(404, "text/plain", "not found: try /healthz or /metrics\n");
      }
    };
    answer().catch((error: unknown) => {
      options.logger.error({ err: { message: (error as Error).message }, path }, "http handler failed");
      if (!res.headersSent) {
        send(500, "text/plain", "internal error\n");
      } else {
        res.end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Races `promise` against a timeout; the result is the value, or the timeout's error. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
