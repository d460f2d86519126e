// The outbox (SPEC §5.5): every event a run emitted, in order (`seq`), with one delivery row per
// sink. The relay reads what is pending for a sink in order, and marks it delivered, retried or
// parked. Events are written in the run's transaction by commitRun (runs.ts) via writeEvents.

import type { Prisma } from "../generated/prisma/client.js";
import type { StoreDb } from "./db.js";

export type EventType = "add" | "remove" | "update";
export type DeliveryState = "pending" | "delivered" | "failed";

/** An event as a run emits it (SPEC §5); `id` is stable, consumers de-duplicate on it. */
export interface EventRow {
  id: string;
  runId: string;
  mapping: string;
  type: EventType;
  product: string | string[];
  occurredAt: Date;
  /** The member without its key (SPEC §5), stored as JSON. */
  user: object;
}

/** A stored event: an EventRow plus its place in the outbox. */
export interface StoredEvent extends EventRow {
  /** Outbox position: increasing in commit order. */
  seq: bigint;
  user: Record<string, unknown>;
}

export interface Delivery {
  sink: string;
  state: DeliveryState;
  attempts: number;
  lastError: string | null;
  deliveredAt: Date | null;
}

export interface EventWithDeliveries extends StoredEvent {
  deliveries: Delivery[];
}

/** A pending event for one sink, with how often delivering it has failed so far. */
export interface PendingDelivery extends StoredEvent {
  attempts: number;
  lastError: string | null;
}

/** Events per statement; each event row carries its user object, so this is a few MB of JSON. */
export const EVENT_CHUNK = 10_000;

// Events keep the order given (`n`); an event id already stored is skipped, and so are its deliveries.
// `json`, not `jsonb`, throughout: parsing to jsonb was half the cost of writing 100k events, and the
// outbox only hands the documents back (columns product and user_data are `json` for the same reason).
const INSERT_EVENTS = `WITH x AS (
    SELECT * FROM json_to_recordset($1::json) AS x(n int, id text, run_id text, mapping text, type text,
           product json, occurred_at timestamptz, user_data json)
  ), ins AS (
    INSERT INTO events (id, run_id, mapping, type, product, occurred_at, user_data)
    SELECT id, run_id, mapping, type, product, occurred_at, user_data FROM x ORDER BY n
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )
  INSERT INTO event_deliveries (event_id, sink)
  SELECT ins.id, s.sink FROM ins CROSS JOIN json_array_elements_text($2::json) AS s(sink)
  ON CONFLICT DO NOTHING`;

/**
 * Appends events to the outbox inside the caller's transaction, in the order given, each with a
 * `pending` delivery row per sink. Idempotent on event id: an id already stored is left as it is.
 */
export async function writeEvents(
  tx: Prisma.TransactionClient,
  events: readonly EventRow[],
  sinks: readonly string[],
): Promise<void> {
  const sinkJson = JSON.stringify(sinks);
  for (let i = 0; i < events.length; i += EVENT_CHUNK) {
    const chunk = events.slice(i, i + EVENT_CHUNK).map((e, j) => ({
      n: j,
      id: e.id,
      run_id: e.runId,
      mapping: e.mapping,
      type: e.type,
      product: e.product,
      occurred_at: e.occurredAt.toISOString(),
      user_data: e.user,
    }));
    await tx.$executeRawUnsafe(INSERT_EVENTS, JSON.stringify(chunk), sinkJson);
  }
}

export interface ListEventsOptions {
  runId?: string;
  mapping?: string;
  type?: EventType;
  /** Only events after this outbox position (for paging). */
  afterSeq?: bigint;
  /** Default 1000. */
  limit?: number;
}

/** Stored events in outbox order, with their delivery state per sink. */
export async function listEvents(
  db: StoreDb,
  options: ListEventsOptions = {},
): Promise<EventWithDeliveries[]> {
  const rows = await db.prisma.event.findMany({
    where: {
      runId: options.runId,
      mapping: options.mapping,
      type: options.type,
      seq: options.afterSeq === undefined ? undefined : { gt: options.afterSeq },
    },
    orderBy: { seq: "asc" },
    take: options.limit ?? 1000,
    include: { deliveries: { orderBy: { sink: "asc" } } },
  });
  return rows.map((row) => ({
    ...toStoredEvent(row),
    deliveries: row.deliveries.map((d) => ({
      sink: d.sink,
      state: d.state as DeliveryState,
      attempts: d.attempts,
      lastError: d.lastError,
      deliveredAt: d.deliveredAt,
    })),
  }));
}

/**
 * Up to `limit` events whose delivery to `sink` is pending, in outbox order (so in order per
 * mapping). Parked (`failed`) deliveries are not returned.
 */
export async function pendingDeliveries(
  db: StoreDb,
  sink: string,
  limit: number,
): Promise<PendingDelivery[]> {
  const rows = await db.prisma.eventDelivery.findMany({
    where: { sink, state: "pending" },
    orderBy: { event: { seq: "asc" } },
    take: limit,
    include: { event: true },
  });
  return rows.map((row) => ({
    ...toStoredEvent(row.event),
    attempts: row.attempts,
    lastError: row.lastError,
  }));
}

/**
 * Marks the events delivered to `sink`. With `position`, the sink's cursor (e.g. the NDJSON file's
 * byte offset after these events) is saved in the same transaction.
 */
export async function markDelivered(
  db: StoreDb,
  sink: string,
  eventIds: readonly string[],
  opts: { position?: bigint } = {},
): Promise<void> {
  const now = new Date();
  await db.prisma.$transaction([
    db.prisma.eventDelivery.updateMany({
      where: { sink, eventId: { in: [...eventIds] } },
      data: { state: "delivered", deliveredAt: now, attempts: { increment: 1 }, lastError: null },
    }),
    ...(opts.position === undefined
      ? []
      : [
          db.prisma.sinkState.upsert({
            where: { sink },
            create: { sink, position: opts.position, updatedAt: now },
            update: { position: opts.position, updatedAt: now },
          }),
        ]),
  ]);
}

/** Records a failed attempt to deliver the events: attempts + 1 and the error; they stay pending. */
export async function recordAttempt(
  db: StoreDb,
  sink: string,
  eventIds: readonly string[],
  error: string,
): Promise<void> {
  await db.prisma.eventDelivery.updateMany({
    where: { sink, eventId: { in: [...eventIds] }, state: "pending" },
    data: { attempts: { increment: 1 }, lastError: error },
  });
}

/** Parks an event the sink will never accept (state `failed`): the relay skips it from now on. */
export async function markFailed(db: StoreDb, sink: string, eventId: string, error: string): Promise<void> {
  await db.prisma.eventDelivery.updateMany({
    where: { sink, eventId },
    data: { state: "failed", attempts: { increment: 1 }, lastError: error },
  });
}

/** The sink's saved cursor; 0 when none was saved. */
export async function getSinkPosition(db: StoreDb, sink: string): Promise<bigint> {
  const row = await db.prisma.sinkState.findUnique({ where: { sink } });
  return row?.position ?? 0n;
}

function toStoredEvent(row: {
  seq: bigint;
  id: string;
  runId: string;
  mapping: string;
  type: string;
  product: Prisma.JsonValue;
  occurredAt: Date;
  user: Prisma.JsonValue;
}): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    runId: row.runId,
    mapping: row.mapping,
    type: row.type as EventType,
    product: row.product as string | string[],
    occurredAt: row.occurredAt,
    user: row.user as Record<string, unknown>,
  };
}
