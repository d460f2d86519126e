// What a sync job is, for the two sides of the queue: the schedulers that produce the jobs
// (src/worker/schedules.ts) and the processor that runs them (jobs/sync-mapping.ts). It sits below
// both so that neither imports the other: jobs/ never imports src/worker/.
import type { JobSchedulerTemplateOptions } from "bullmq";
import { HOUR, SECOND } from "../util/time.js";

const DAY = 24 * HOUR;

/** The queue of sync jobs (keys under `redis.prefix`). */
export const QUEUE_NAME = "roster-sync";
/** The name of every job a mapping's scheduler produces. */
export const SYNC_JOB = "sync";

export interface SyncJobData {
  mapping: string;
  /** "manual" on jobs added by hand (`queue.add("sync", { mapping, trigger: "manual" })`);
   * "schedule" on the first run of a new `every:` schedule (see reconcileSchedulers). */
  trigger?: "manual" | "schedule";
}

/**
 * Options of every sync job. Transient failures are retried twice with exponential backoff
 * (10 s, 20 s); permanent ones fail at once (UnrecoverableError, see jobs/sync-mapping.ts).
 * Finished jobs are kept a while for inspection, bounded so that months of `every: 1m` stay small.
 */
export const SYNC_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: "exponential", delay: 10 * SECOND },
  removeOnComplete: { age: DAY / SECOND, count: 1000 },
  removeOnFail: { age: 7 * (DAY / SECOND), count: 1000 },
} satisfies JobSchedulerTemplateOptions;
