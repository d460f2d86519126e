// The BullMQ processor of "sync" jobs (one per scheduler trigger, data { mapping }): takes the
// mapping's lock, runs the mapping once (src/sync/run.ts) and asks the relay to deliver what it
// committed.
//
// Decisions (see also src/store/locks.ts):
// - A trigger that fires while the mapping's run is in progress is SKIPPED, not queued: the job
//   completes with { skipped: true, reason } and roster_sync_skipped_triggers_total counts it.
//   Waiting would hold a worker slot for as long as a slow provider takes, delaying other
//   districts' mappings (SPEC §8), and the run in progress is about to apply nearly the same roster.
// - Each attempt is a run of its own with a fresh run id: a failed attempt keeps its `failed`
//   history row, and a stalled job taken up again by another worker (its first worker was killed
//   before committing, so nothing of that attempt exists) runs afresh. Event ids derive from the run
//   id, but a mapping never has two committed runs with the same diff: the second diffs against the
//   snapshot the first committed.
// - A job whose runs stopped their worker `worker.maxStalledCount` times (the process died under it,
//   e.g. out of memory, and the stalled check handed the job to the next worker) is failed for good
//   before it runs again, with a `failed` history row saying so: otherwise a run that kills its
//   process takes every worker that picks it up down with it, and their other mappings too.
// - Failures are classified by a table (classifyFailure): permanent ones fail the job at once with
//   UnrecoverableError (the run is recorded as failed); transient ones are thrown, and BullMQ
//   retries the job with exponential backoff (SYNC_JOB_OPTIONS in src/app/sync-job.ts).
import { UnrecoverableError, type Job } from "bullmq";
import type { Config, MappingConfig, ProviderConfig } from "../src/config/schema.js";
import { RosterSyncError, type ErrorCode } from "../src/errors.js";
import { sinkName } from "../src/events/relay.js";
import type { Logger } from "../src/log.js";
import { AdaptiveRate } from "../src/providers/adaptive-rate.js";
import { createAuthorizer, type Authorizer } from "../src/providers/auth.js";
import { createGotInstance, createHttpClient, pacedBurst } from "../src/providers/http.js";
import { createProvider } from "../src/providers/index.js";
import { OneRosterConnector } from "../src/providers/oneroster/connector.js";
import { TokenBucket } from "../src/providers/token-bucket.js";
import type { Provider } from "../src/providers/types.js";
import type { Database } from "../src/store/db.js";
import { recordRun, type RunRow } from "../src/store/index.js";
import { FetchCache } from "../src/sync/resolve.js";
import { progressLogger, runMapping, RunFailedError, runSummary, type RunSummary } from "../src/sync/run.js";
import { newRunId } from "../src/util/ids.js";
import type { WorkerObserver } from "../src/app/observer.js";
import { mappingLock, type Locks } from "../src/store/locks.js";
import type { SyncJobData } from "../src/app/sync-job.js";

export type SkipReason = "run in progress" | "mapping not configured";

export type SyncJobResult =
  { skipped: true; mapping: string; reason: SkipReason } | ({ skipped: false } & RunSummary);

export interface SyncProcessorDeps {
  /** The current config: read once per job, so a reload applies to the next job. */
  config: () => Config;
  db: Database;
  locks: Locks;
  logger: Logger;
  observer?: WorkerObserver;
  /** Told after a run committed events, so that the relay delivers them now. */
  onCommitted?: (mapping: string) => void;
  /** For tests. */
  createProvider?: typeof createProvider;
}

/**
 * Error codes that no retry can fix: the config, the provider's answer to our credentials or
 * request, a group that does not exist. Other RosterSyncErrors follow their own `retriable` (a 429,
 * 5xx or network failure is; another 4xx is not). Anything else (a dropped database connection, a
 * lock lost, a bug) is retried: two more attempts cost little.
 */
const PERMANENT: ReadonlySet<ErrorCode> = new Set([
  "CONFIG",
  "USAGE",
  "NO_GROUP_MATCHED",
  "PROVIDER_AUTH",
  "DATABASE_LOCKED",
]);

export function classifyFailure(error: unknown): "permanent" | "transient" {
  if (error instanceof RosterSyncError) {
    return PERMANENT.has(error.code) || !error.retriable ? "permanent" : "transient";
  }
  return "transient";
}

/**
 * A run's share of its provider's token bucket: it takes tokens from the shared bucket, and
 * closing the run's connector (which clears its bucket) abandons only this run's own waits.
 */
class BucketShare extends TokenBucket {
  readonly #waits = new Set<(error: Error) => void>();

  constructor(readonly shared: TokenBucket) {
    super({ requestsPerSecond: shared.requestsPerSecond, burst: shared.burst });
  }

  override take(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waits.add(reject);
      this.shared.take().then(
        () => this.#waits.delete(reject) && resolve(),
        (error: Error) => this.#waits.delete(reject) && reject(error),
      );
    });
  }

  /** The adaptive rate lowers the provider's rate, not only this run's. */
  override setRate(requestsPerSecond: number): void {
    this.shared.setRate(requestsPerSecond);
  }

  override clear(reason: Error = new Error("token bucket cleared")): void {
    for (const reject of this.#waits) {
      reject(reason);
    }
    this.#waits.clear();
  }
}

/**
 * The providers of one worker process. Runs of mappings on one provider may overlap (worker
 * concurrency), and SPEC §4 wants them to share its `requestsPerSecond`: each provider keeps one
 * token bucket, one authorizer (an OAuth2 token is fetched once, not per run) and one got
 * instance, while each run gets a connector of its own, so that the request counts in its history
 * row are its own. A changed provider config (SIGHUP) gets fresh ones.
 */
export class ProviderPool {
  readonly #shared = new Map<
    string,
    {
      key: string;
      bucket: TokenBucket;
      rate: AdaptiveRate;
      auth: Authorizer;
      got: ReturnType<typeof createGotInstance>;
    }
  >();

  create(config: ProviderConfig, logger: Logger, mappings?: readonly MappingConfig[]): Provider {
    if (config.type !== "oneroster" && config.type !== "classlink") {
      return createProvider(config, { logger, mappings });
    }
    const key = JSON.stringify(config);
    let shared = this.#shared.get(config.name);
    if (shared?.key !== key) {
      const got = createGotInstance(config);
      const rps = config.rateLimit.requestsPerSecond;
      shared = {
        key,
        got,
        auth: createAuthorizer(config, got),
        bucket: new TokenBucket({ requestsPerSecond: rps, burst: pacedBurst(rps) }),
        // One adaptive rate per provider: a 429 seen by one run slows every run of that provider.
        rate: new AdaptiveRate({ maxRate: rps }),
      };
      this.#shared.set(config.name, shared);
    }
    const http = createHttpClient(config, {
      logger,
      got: shared.got,
      auth: shared.auth,
      bucket: new BucketShare(shared.bucket),
      rate: shared.rate,
    });
    return new OneRosterConnector(config, { logger, http });
  }
}

export function createSyncProcessor(deps: SyncProcessorDeps) {
  const pool = new ProviderPool();
  const makeProvider =
    deps.createProvider ??
    ((config: ProviderConfig, o: { logger: Logger; mappings: readonly MappingConfig[] }) =>
      pool.create(config, o.logger, o.mappings));
  return async (job: Job<SyncJobData>, _token?: string, signal?: AbortSignal): Promise<SyncJobResult> => {
    const name = job.data.mapping;
    const trigger = job.repeatJobKey ? "schedule" : (job.data.trigger ?? "manual");
    const log = deps.logger.child({ mapping: name, jobId: job.id });
    const config = deps.config();
    const mapping = config.mappings.find((m) => m.name === name);
    const skip = (reason: SkipReason): SyncJobResult => {
      deps.observer?.skipped(name, reason);
      return { skipped: true, mapping: name, reason };
    };
    if (!mapping) {
      log.warn({ trigger }, "trigger skipped: the mapping is no longer configured");
      return skip("mapping not configured");
    }

    if (job.stalledCounter >= config.worker.maxStalledCount) {
      await failStalled(job, trigger, config.worker.maxStalledCount, deps, log);
    }

    const lease = await deps.locks.tryAcquire(mappingLock(name));
    if (!lease) {
      log.info({ trigger }, "trigger skipped: a run of this mapping is in progress");
      return skip("run in progress");
    }
    const runId = newRunId(new Date());
    const runLog = log.child({ runId });
    let provider: Provider | undefined;
    try {
      provider = makeProvider(mapping.provider, { logger: runLog, mappings: [mapping] });
      const summary = await runMapping(
        mapping,
        new FetchCache(provider, progressLogger(runLog, mapping.provider.name)),
        // runMapping adds mapping and runId to its own lines.
        { db: deps.db, logger: deps.logger.child({ jobId: job.id }), sinks: config.sinks.map(sinkName) },
        {
          trigger,
          runId,
          rethrow: true,
          signal: signal ? AbortSignal.any([signal, lease.signal]) : lease.signal,
        },
      );
      deps.observer?.runFinished(summary);
      if (summary.status === "succeeded" && summary.added + summary.removed + summary.updated > 0) {
        deps.onCommitted?.(name);
      }
      return { skipped: false, ...summary };
    } catch (error) {
      const cause = error instanceof RunFailedError ? error.cause : error;
      if (error instanceof RunFailedError) {
        deps.observer?.runFinished(error.summary);
      }
      const kind = classifyFailure(cause);
      deps.observer?.jobFailed(name, kind);
      const message = cause instanceof Error ? cause.message : String(cause);
      if (kind === "permanent") {
        runLog.error({ err: { message } }, "sync failed for good: not retried");
        throw new UnrecoverableError(`${name}: ${message}`);
      }
      const attempts = job.opts.attempts ?? 1;
      runLog.warn(
        { attempt: job.attemptsMade + 1, attempts, err: { message } },
        job.attemptsMade + 1 < attempts
          ? "sync failed: will retry with backoff"
          : "sync failed: no attempts left",
      );
      throw cause instanceof Error ? cause : new Error(message);
    } finally {
      if (provider) {
        deps.observer?.providerStats(mapping.provider.name, provider.stats);
        await provider.close().catch(() => undefined);
      }
      await lease.release();
    }
  };
}

/** Records the failed run of a job stalled too often, and fails the job for good. */
async function failStalled(
  job: Job<SyncJobData>,
  trigger: string,
  maxStalledCount: number,
  deps: SyncProcessorDeps,
  log: Logger,
): Promise<never> {
  const mapping = job.data.mapping;
  const stalls = job.stalledCounter;
  const error =
    `the run stopped its worker ${stalls} times (the process died under it: out of memory, killed ` +
    `or crashed), worker.maxStalledCount is ${maxStalledCount}: failed for good; the next trigger ` +
    `runs the mapping again`;
  const now = new Date();
  const row: RunRow = {
    id: newRunId(now),
    mapping,
    status: "failed",
    trigger,
    startedAt: now,
    finishedAt: now,
    members: null,
    added: 0,
    removed: 0,
    updated: 0,
    requests: 0,
    durationMs: 0,
    error,
    forced: false,
  };
  await recordRun(deps.db, row);
  log.error({ stalled: stalls, maxStalledCount, runId: row.id }, `sync failed for good: ${error}`);
  deps.observer?.runFinished(runSummary(row));
  deps.observer?.jobFailed(mapping, "permanent");
  throw new UnrecoverableError(`${mapping}: ${error}`);
}
