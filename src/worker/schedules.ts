// Mapping schedules → BullMQ job schedulers (SPEC §1, issue 3 item 1). One scheduler per mapping,
// id = the mapping's name, producing "sync" jobs with data { mapping }. The planning is pure (what
// to upsert, what to remove); `reconcileSchedulers` applies a plan to a queue.
//
// Why only changed schedulers are upserted: an upsert of an unchanged `every` scheduler keeps its
// next time, but an upsert of a cron scheduler recomputes it, and reconciling is frequent (start,
// SIGHUP, every RECONCILE_INTERVAL and after Redis reconnects, which is how schedulers lost with a
// Redis restart come back). A changed schedule replaces the scheduler's pending next job; a run in
// progress is not touched, so no run is lost.
import { createHash } from "node:crypto";
import { type JobSchedulerJson, type JobSchedulerTemplateOptions, type Queue } from "bullmq";
import { SYNC_JOB, SYNC_JOB_OPTIONS, type SyncJobData } from "../app/sync-job.js";
import { cronProblem, isTimeZone, normaliseCron } from "../config/cron.js";
import { parseDuration, type Config, type MappingConfig } from "../config/schema.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { SECOND } from "../util/time.js";

/** How often the worker checks that Redis still holds the schedulers it expects. */
export const RECONCILE_INTERVAL_MS = 30 * SECOND;

export type RepeatSpec = { pattern: string; tz: string } | { every: number; offset: number };

/**
 * Where in its interval an `every:` schedule fires: a stable pseudo-random point in [1, every)
 * derived from the mapping's name. Without it, every mapping whose scheduler is created at the
 * same moment (a worker's start) would fire in the same instant, every interval: 200 mappings on
 * `every: 5s` would be one burst of 200 runs every 5 s, queueing behind each other and hitting the
 * providers at once, instead of 40 runs a second. A new scheduler's first run is not left to the
 * offset: reconcileSchedulers queues it at once, as an unspread `every` would have.
 */
export function everyOffset(name: string, every: number): number {
  return 1 + (createHash("sha256").update(name).digest().readUInt32BE(0) % (every - 1));
}

export interface SchedulerSpec {
  /** The mapping's name. */
  id: string;
  repeat: RepeatSpec;
  template: { name: typeof SYNC_JOB; data: SyncJobData; opts: JobSchedulerTemplateOptions };
}

/**
 * A mapping's schedule as BullMQ repeat options: a cron string → `{ pattern, tz }` (5 fields, or 6
 * with leading seconds, in `defaults.timezone`), `{ every: 15m }` → `{ every: 900000, offset }` (no
 * time zone: an interval is the same everywhere; see everyOffset). Throws ConfigError for a pattern BullMQ cannot
 * compute a next time for, an unknown time zone or a bad duration (the config loader refuses all
 * three with the same check, config/cron.ts; this is the worker's own defence).
 */
export function repeatOptions(
  mapping: Pick<MappingConfig, "name" | "schedule">,
  timezone: string,
  now = Date.now(),
): RepeatSpec {
  const where = `mappings.${mapping.name}.schedule`;
  if (typeof mapping.schedule !== "string") {
    const every = parseDuration(mapping.schedule.every);
    if (every === undefined || every < SECOND) {
      throw new ConfigError(
        `${where}: every: ${mapping.schedule.every} is not a duration of at least 1s`,
        "",
        where,
      );
    }
    return { every, offset: everyOffset(mapping.name, every) };
  }
  const pattern = normaliseCron(mapping.schedule);
  if (!isTimeZone(timezone)) {
    throw new ConfigError(`defaults.timezone: unknown time zone "${timezone}"`, "", "defaults.timezone");
  }
  const problem = cronProblem(pattern, timezone, now);
  if (problem) {
    throw new ConfigError(`${where}: ${problem}`, "", where);
  }
  return { pattern, tz: timezone };
}

export interface DesiredSchedulers {
  specs: SchedulerSpec[];
  /** Mappings whose schedule is unusable: no scheduler is made for them; the rest go ahead. */
  invalid: { mapping: string; error: string }[];
}

/** The schedulers a config asks for: one per mapping. */
export function desiredSchedulers(config: Pick<Config, "mappings" | "timezone">, now = Date.now()) {
  const out: DesiredSchedulers = { specs: [], invalid: [] };
  for (const mapping of config.mappings) {
    try {
      out.specs.push({
        id: mapping.name,
        repeat: repeatOptions(mapping, config.timezone, now),
        template: { name: SYNC_JOB, data: { mapping: mapping.name }, opts: SYNC_JOB_OPTIONS },
      });
    } catch (error) {
      out.invalid.push({ mapping: mapping.name, error: (error as Error).message });
    }
  }
  return out;
}

/**
 * The config loader refuses unusable schedules; a config built another way (a test, an embedding
 * program) is checked again when the worker starts, before anything is opened, so that it never
 * runs with a mapping it silently cannot schedule (exit code 2 through the CLI).
 */
export function assertSchedulable(config: Pick<Config, "file" | "mappings" | "timezone">): void {
  const { invalid } = desiredSchedulers(config);
  const first = invalid[0];
  if (first) {
    throw new ConfigError(
      `${config.file}: the worker cannot schedule ${invalid.map((i) => i.error).join("; ")}`,
      config.file,
      `mappings.${first.mapping}.schedule`,
    );
  }
}

/** What a scheduler in Redis looks like to the planner (a subset of BullMQ's JobSchedulerJson). */
export type ExistingScheduler = Pick<
  JobSchedulerJson<unknown>,
  "key" | "name" | "pattern" | "every" | "offset" | "tz"
> & {
  template?: { data?: unknown; opts?: { attempts?: number } };
};

export interface ReconcilePlan {
  /** New or changed: upserted. */
  upsert: SchedulerSpec[];
  /** In Redis but not (or no longer validly) in the config: removed. */
  remove: string[];
  /** Already as wanted: left alone, so their next run time is kept. */
  unchanged: string[];
}

/**
 * Compares the wanted schedulers with those in Redis. A scheduler whose mapping has an invalid
 * schedule is neither upserted nor removed (`keep`): a typo in a reload must not stop a mapping
 * that was running fine. Pure.
 */
export function planReconcile(
  desired: readonly SchedulerSpec[],
  existing: readonly ExistingScheduler[],
  keep: readonly string[] = [],
): ReconcilePlan {
  const byId = new Map(existing.map((s) => [s.key, s]));
  const plan: ReconcilePlan = { upsert: [], remove: [], unchanged: [] };
  for (const spec of desired) {
    const current = byId.get(spec.id);
    if (current && sameScheduler(spec, current)) {
      plan.unchanged.push(spec.id);
    } else {
      plan.upsert.push(spec);
    }
  }
  const wanted = new Set([...desired.map((s) => s.id), ...keep]);
  plan.remove = existing.map((s) => s.key).filter((id) => !wanted.has(id));
  return plan;
}

function sameScheduler(spec: SchedulerSpec, current: ExistingScheduler): boolean {
  const repeat = spec.repeat;
  const sameRepeat =
    "every" in repeat
      ? current.every === repeat.every && current.offset === repeat.offset && !current.pattern
      : current.pattern === repeat.pattern && (current.tz ?? "") === repeat.tz && !current.every;
  const data = current.template?.data as Partial<SyncJobData> | undefined;
  return (
    sameRepeat &&
    current.name === spec.template.name &&
    data?.mapping === spec.template.data.mapping &&
    current.template?.opts?.attempts === spec.template.opts.attempts
  );
}

export interface ReconcileResult extends ReconcilePlan {
  invalid: DesiredSchedulers["invalid"];
  /** Schedulers whose upsert or removal failed (the next reconcile tries again). */
  errors: { id: string; error: string }[];
  /** Configured mappings without their configured scheduler in Redis after this reconcile: an
   * unusable schedule, or an upsert that failed. /healthz is 503 while there is one. */
  unscheduled: string[];
}

/** Upper bound of schedulers read at once; a config has far fewer mappings. */
const MAX_SCHEDULERS = 100_000;

/** Brings the queue's schedulers in line with the config. Throws only when Redis cannot be read. */
export async function reconcileSchedulers(
  queue: Queue,
  config: Pick<Config, "mappings" | "timezone">,
  logger: Logger,
): Promise<ReconcileResult> {
  const desired = desiredSchedulers(config);
  for (const bad of desired.invalid) {
    logger.error({ mapping: bad.mapping, err: { message: bad.error } }, "schedule unusable: not scheduled");
  }
  const existing = (await queue.getJobSchedulers(0, MAX_SCHEDULERS - 1, true)) as ExistingScheduler[];
  const plan = planReconcile(
    desired.specs,
    existing,
    desired.invalid.map((i) => i.mapping),
  );
  const errors: ReconcileResult["errors"] = [];
  const known = new Set(existing.map((s) => s.key));
  for (const spec of plan.upsert) {
    try {
      await queue.upsertJobScheduler(spec.id, spec.repeat, spec.template);
      // A new `every:` mapping runs now, then at its offset (everyOffset); a cron one waits for its
      // time, as cron does. Two workers starting at once may both queue it: the mapping's lock
      // makes the second a skip or a run that finds nothing new.
      const runNow = !known.has(spec.id) && "every" in spec.repeat;
      if (runNow) {
        await queue.add(SYNC_JOB, { mapping: spec.id, trigger: "schedule" }, SYNC_JOB_OPTIONS);
      }
      logger.info({ mapping: spec.id, schedule: spec.repeat, firstRunNow: runNow }, "schedule set");
    } catch (error) {
      errors.push({ id: spec.id, error: (error as Error).message });
      logger.error({ mapping: spec.id, err: { message: (error as Error).message } }, "schedule not set");
    }
  }
  for (const id of plan.remove) {
    try {
      await queue.removeJobScheduler(id);
      logger.info({ mapping: id }, "schedule removed: the mapping left the config");
    } catch (error) {
      errors.push({ id, error: (error as Error).message });
    }
  }
  const failed = new Set(errors.map((e) => e.id));
  const scheduled = new Set([
    ...plan.unchanged,
    ...plan.upsert.map((s) => s.id).filter((id) => !failed.has(id)),
  ]);
  const unscheduled = config.mappings.map((m) => m.name).filter((name) => !scheduled.has(name));
  return { ...plan, invalid: desired.invalid, errors, unscheduled };
}
