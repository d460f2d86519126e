// The run history (table runs) and the one transaction that applies a run (SPEC §5.4): its history
// row, the snapshot delta and its events, all or nothing.

import type { Prisma, Run } from "../generated/prisma/client.js";
import type { Member } from "../domain.js";
import { driverTransaction, type StoreDb } from "./db.js";
import { writeEvents, type EventRow } from "./outbox.js";
import { writeSnapshotDelta } from "./snapshot.js";

export type RunStatus = "succeeded" | "failed" | "held" | "dry-run";

/** One sync run as the history keeps it (`history --json` prints these fields). */
export interface RunRow {
  id: string;
  mapping: string;
  status: RunStatus;
  /** What started it: `cli`, `schedule`, `manual`… */
  trigger: string;
  startedAt: Date;
  finishedAt: Date;
  /** Members fetched; null when the fetch failed. */
  members: number | null;
  added: number;
  removed: number;
  updated: number;
  /** HTTP requests made to the provider. */
  requests: number;
  durationMs: number;
  error: string | null;
  /** Applied with `--force` past the safety guard. */
  forced: boolean;
}

export interface CommitRunInput {
  run: RunRow;
  /** The snapshot delta: added and updated members, and the keys of removed ones. */
  snapshot?: { upserts: readonly Member[]; removes: readonly string[] };
  /** The run's events, in the order they are to be delivered. */
  events: readonly EventRow[];
  /** The configured sinks: each event gets a pending delivery per sink. */
  sinks: readonly string[];
}

/**
 * Applies a run in ONE transaction: its history row, the snapshot delta and its events (outbox).
 * If any part fails (e.g. the run id already exists), nothing is written and the error is thrown.
 */
export async function commitRun(db: StoreDb, input: CommitRunInput): Promise<void> {
  // On the driver, not Prisma: the bulk statements below carry megabytes of parameters, and Prisma's
  // handling of them cost a third of the commit; one INSERT of the run row comes along.
  await driverTransaction(db, async (tx) => {
    const r = input.run;
    await tx.execute(INSERT_RUN, [
      r.id,
      r.mapping,
      r.status,
      r.trigger,
      r.startedAt.toISOString(),
      r.finishedAt.toISOString(),
      r.members,
      r.added,
      r.removed,
      r.updated,
      r.requests,
      r.durationMs,
      r.error,
      r.forced,
    ]);
    if (input.snapshot) {
      await writeSnapshotDelta(tx, r.mapping, r.id, input.snapshot);
    }
    await writeEvents(tx, input.events, input.sinks);
  });
}

const INSERT_RUN = `INSERT INTO runs (id, mapping, status, trigger, started_at, finished_at, members, added,
    removed, updated, requests, duration_ms, error, forced)
  VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::int, $8::int, $9::int, $10::int, $11::int,
    $12::int, $13, $14::boolean)`;

/** Records a run that changes nothing else: failed, held or dry-run. */
export async function recordRun(db: StoreDb, run: RunRow): Promise<void> {
  await db.prisma.run.create({ data: runData(run) });
}

/** Recent runs, newest first. `limit` defaults to 20. */
export async function listRuns(
  db: StoreDb,
  options: { mapping?: string; limit?: number } = {},
): Promise<RunRow[]> {
  const rows = await db.prisma.run.findMany({
    where: { mapping: options.mapping },
    orderBy: [{ startedAt: "desc" }, { id: "desc" }],
    take: options.limit ?? 20,
  });
  return rows.map(toRunRow);
}

/**
 * The id of the mapping's latest run that changed its snapshot (`succeeded`), or null. A caller
 * that fetched ahead compares it before and after taking the mapping's lock: a different id means
 * another process committed meanwhile, and what was fetched before it may be older than the
 * snapshot.
 */
export async function lastAppliedRunId(db: StoreDb, mapping: string): Promise<string | null> {
  const row = await db.prisma.run.findFirst({
    where: { mapping, status: "succeeded" },
    orderBy: [{ startedAt: "desc" }, { id: "desc" }],
    select: { id: true },
  });
  return row?.id ?? null;
}

export async function getRun(db: StoreDb, id: string): Promise<RunRow | null> {
  const row = await db.prisma.run.findUnique({ where: { id } });
  return row ? toRunRow(row) : null;
}

function runData(run: RunRow): Prisma.RunCreateInput {
  return {
    id: run.id,
    mapping: run.mapping,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    members: run.members,
    added: run.added,
    removed: run.removed,
    updated: run.updated,
    requests: run.requests,
    durationMs: run.durationMs,
    error: run.error,
    forced: run.forced,
  };
}

function toRunRow(row: Run): RunRow {
  return {
    id: row.id,
    mapping: row.mapping,
    status: row.status as RunStatus,
    trigger: row.trigger,
    startedAt: row.startedAt,
    // Every row we write is finished; a row written by hand without it reads as instantaneous.
    finishedAt: row.finishedAt ?? row.startedAt,
    members: row.members,
    added: row.added,
    removed: row.removed,
    updated: row.updated,
    requests: row.requests,
    durationMs: row.durationMs ?? 0,
    error: row.error,
    forced: row.forced,
  };
}
