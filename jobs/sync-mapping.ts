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
import type { Config } from "../src/config/schema.js";
import { RosterSyncError, type ErrorCode } from "../src/errors.js";
import { sinkName } from "../src/events/relay.js";
import type { Logger } from "../src/log.js";
import { createProviderRuntime, type ProviderRuntime } from "../src/providers/runtime.js";
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
  /** The process's providers (one budget per provider across every run, SPEC §4); whoever
   * passes it closes it. Default: a runtime of this processor's own. */
  providers?: ProviderRuntime;
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

export function createSyncProcessor(deps: SyncProcessorDeps) {
  const providers = deps.providers ?? createProviderRuntime();
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
      provider = providers.connector(mapping.provider, { logger: runLog, mappings: [mapping] });
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
