// One sync run of one mapping, start to commit (SPEC §5): fetch the complete membership, diff it
// against the snapshot, apply the safety guard, and write snapshot + history row + events in one
// transaction. A failure anywhere before the commit changes nothing but a `failed` history row.
import type { MappingConfig } from "../config/schema.js";
import { RosterSyncError } from "../errors.js";
import type { Logger } from "../log.js";
import { throttled } from "../log.js";
import type { Database } from "../store/db.js";
import { commitRun, loadSnapshot, recordRun, type RunRow } from "../store/index.js";
import { newRunId } from "../util/ids.js";
import { SECOND } from "../util/time.js";
import { diffMembers } from "./diff.js";
import { buildEvents } from "./events.js";
import { checkRemovals } from "./guard.js";
import type { FetchCache } from "./resolve.js";
import { resolveMembers } from "./resolve.js";

export type RunStatus = "succeeded" | "failed" | "held" | "dry-run";

/** The summary of a run, as `sync --json` prints it (SPEC §6). */
export interface RunSummary {
  runId: string;
  mapping: string;
  status: RunStatus;
  members: number | null;
  added: number;
  removed: number;
  updated: number;
  requests: number;
  durationMs: number;
  error: string | null;
}

export interface RunContext {
  db: Database;
  logger: Logger;
  /** Names of the sinks each committed event is queued for (outbox delivery rows). */
  sinks: string[];
  now?: () => Date;
}

export interface RunOptions {
  dryRun?: boolean;
  force?: boolean;
  trigger?: string;
  runId?: string;
  /** After recording a failed run, throw a RunFailedError carrying the summary and the cause (the
   * worker needs the error's class to decide between retrying and giving up). Default false: the
   * failed summary is returned, as `sync` prints it. */
  rethrow?: boolean;
  /** The provider's request count to charge this run from. Default: the count at the run's start.
   * `sync` fetches ahead for every mapping at once and charges each run what the provider sent
   * since the previous run ended, so that the runs' counts add up to the provider's traffic. */
  requestsFrom?: number;
  /** Checked after the fetch and again just before the commit: once aborted, the run writes nothing
   * and throws the signal's reason (the worker lost its lock on the mapping, or is shutting down). */
  signal?: AbortSignal;
}

/** A run that failed and was recorded as failed (only with `rethrow`). `cause` is what failed it. */
export class RunFailedError extends Error {
  constructor(
    readonly summary: RunSummary,
    cause: unknown,
  ) {
    super(summary.error ?? "sync failed", { cause });
    this.name = "RunFailedError";
  }
}

export async function runMapping(
  mapping: MappingConfig,
  cache: FetchCache,
  ctx: RunContext,
  options: RunOptions = {},
): Promise<RunSummary> {
  const now = ctx.now ?? (() => new Date());
  const startedAt = now();
  const runId = options.runId ?? newRunId(startedAt);
  const log = ctx.logger.child({ mapping: mapping.name, runId });
  const requestsBefore = options.requestsFrom ?? cache.provider.stats.requests;
  const row = (fields: Partial<RunRow> & Pick<RunRow, "status">): RunRow => {
    const finishedAt = now();
    return {
      id: runId,
      mapping: mapping.name,
      trigger: options.trigger ?? "cli",
      startedAt,
      finishedAt,
      members: null,
      added: 0,
      removed: 0,
      updated: 0,
      requests: cache.provider.stats.requests - requestsBefore,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      error: null,
      forced: options.force ?? false,
      ...fields,
    };
  };

  log.info({ provider: mapping.provider.name, dryRun: options.dryRun ?? false }, "sync started");
  let members;
  try {
    members = await resolveMembers(mapping, cache);
  } catch (error) {
    const failed = row({ status: "failed", error: describe(error) });
    log.error({ err: errorForLog(error), requests: failed.requests }, "sync failed: nothing was changed");
    await recordRun(ctx.db, failed);
    if (options.rethrow) {
      throw new RunFailedError(runSummary(failed), error);
    }
    return runSummary(failed);
  }

  options.signal?.throwIfAborted();
  const previous = await loadSnapshot(ctx.db, mapping.name);
  const diff = diffMembers(previous, members);
  const counts = {
    members: members.size,
    added: diff.added.length,
    removed: diff.removed.length,
    updated: diff.updated.length,
  };

  if (options.dryRun) {
    const dry = row({ status: "dry-run", ...counts });
    await recordRun(ctx.db, dry);
    log.info(counts, "dry run: nothing was changed");
    return runSummary(dry);
  }

  const verdict = checkRemovals(previous.size, diff.removed.length, mapping.safety);
  if (verdict.hold && !options.force) {
    const held = row({ status: "held", ...counts, error: verdict.reason });
    await recordRun(ctx.db, held);
    log.warn({ ...counts, previous: previous.size }, verdict.reason);
    return runSummary(held);
  }

  options.signal?.throwIfAborted();
  const done = row({ status: "succeeded", ...counts });
  const events = buildEvents(diff, {
    mapping: mapping.name,
    product: mapping.product,
    runId,
    occurredAt: done.finishedAt,
  });
  await commitRun(ctx.db, {
    run: done,
    snapshot: {
      upserts: [...diff.added, ...diff.updated.map((u) => u.member)],
      removes: diff.removed.map((m) => m.key),
    },
    events: events.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt) })),
    sinks: ctx.sinks,
  });
  log.info(
    { ...counts, requests: done.requests, durationMs: done.durationMs, forced: done.forced },
    "sync committed",
  );
  return runSummary(done);
}

/** A history row as `sync --json` shows it (SPEC §6); `history --json` adds the times and trigger. */
export function runSummary(row: RunRow): RunSummary {
  return {
    runId: row.id,
    mapping: row.mapping,
    status: row.status,
    members: row.members,
    added: row.added,
    removed: row.removed,
    updated: row.updated,
    requests: row.requests,
    durationMs: row.durationMs,
    error: row.error,
  };
}

/** One line for the history and `--json`: the message, which never carries secrets or credentials. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

function errorForLog(error: unknown): Record<string, unknown> {
  if (error instanceof RosterSyncError) {
    return { type: error.name, code: error.code, message: error.message };
  }
  return { type: error instanceof Error ? error.name : typeof error, message: describe(error) };
}

/** A progress logger for a provider's fetches: pages and records so far, at most once a second. */
export function progressLogger(
  logger: Logger,
  provider: string,
): (p: { pages: number; records: number }) => void {
  const gate = throttled(SECOND);
  let pages = 0;
  let records = 0;
  return (p) => {
    pages += p.pages;
    records += p.records;
    gate(() => logger.info({ provider, pages, records }, "fetching"));
  };
}
