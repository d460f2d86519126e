// The outbox (SPEC §5.5): every event a run emitted, in order (`seq`), with one delivery row per
// sink. The relay reads what is pending for a sink in order, and marks it delivered, retried or
// failed. Events are written in the run's transaction by commitRun (runs.ts) via writeEvents.

import type { Prisma } from "../generated/prisma/client.js";
import { copyRow } from "./copy.js";
import type { DriverSql, StoreDb } from "./db.js";

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
// Each row is a small JSON array [id, type, user]; the columns every event of a run shares (run id,
// mapping, product, time) are parameters, sent once per statement. `json`, not `jsonb`, throughout:
// parsing to jsonb was half the cost of writing 100k events, and the outbox only hands the documents
// back (columns product and user_data are `json` for the same reason). The delivery rows are those
// of the events inserted now (RETURNING), so they never exist already: no ON CONFLICT needed.
const INSERT_EVENTS = `WITH ins AS (
    INSERT INTO events (id, run_id, mapping, type, product, occurred_at, user_data)
    SELECT x->>0, $2, $3, x->>1, $4::json, $5::timestamptz, x->2
      FROM json_array_elements($1::json) WITH ORDINALITY AS t(x, n) ORDER BY n
    ON CONFLICT (id) DO NOTHING
    RETURNING id, seq
  )
  INSERT INTO event_deliveries (event_id, sink, event_seq)
  SELECT ins.id, s.sink, ins.seq FROM ins CROSS JOIN json_array_elements_text($6::json) AS s(sink)`;

const EXISTING_EVENTS = `SELECT e.id FROM json_array_elements_text($1::json) AS x(id) JOIN events e ON e.id = x.id`;
const COPY_EVENTS = `COPY events (seq, id, run_id, mapping, type, product, occurred_at, user_data) FROM '/dev/blob'`;
const COPY_DELIVERIES = `COPY event_deliveries (event_id, sink, event_seq) FROM '/dev/blob'`;
// COPY gives each event its outbox position itself, so that the delivery rows can carry it: the
// next `n` values of the events' sequence are reserved first (PGlite has one connection, and this
// runs in its transaction: nothing else takes values in between).
const NEXT_SEQ = `SELECT nextval(pg_get_serial_sequence('events', 'seq'))::text AS first`;
const RESERVE_SEQ = `SELECT setval(pg_get_serial_sequence('events', 'seq'), $1::bigint)`;

/**
 * Appends events to the outbox inside the caller's transaction, in the order given, each with a
 * `pending` delivery row per sink. Idempotent on event id: an id already stored is left as it is.
 */
export async function writeEvents(
  tx: DriverSql,
  events: readonly EventRow[],
  sinks: readonly string[],
): Promise<void> {
  const targets = [...new Set(sinks)];
  if (tx.copyFrom) {
    await copyEvents(tx, tx.copyFrom.bind(tx), events, targets);
    return;
  }
  const sinkJson = JSON.stringify(targets);
  for (const group of sharedColumns(events)) {
    for (let i = 0; i < group.events.length; i += EVENT_CHUNK) {
      const chunk = group.events.slice(i, i + EVENT_CHUNK).map((e) => [e.id, e.type, e.user]);
      await tx.execute(INSERT_EVENTS, [
        JSON.stringify(chunk),
        group.runId,
        group.mapping,
        group.product,
        group.occurredAt,
        sinkJson,
      ]);
    }
  }
}

/**
 * PGlite: the events not stored yet, then their delivery rows, each with one COPY (twice as fast
 * as INSERT there). PGlite has one connection and this runs in its transaction, so no other writer
 * can store one of these ids between the look-up and the COPY.
 */
async function copyEvents(
  tx: DriverSql,
  copyFrom: (sql: string, data: string) => Promise<number>,
  events: readonly EventRow[],
  sinks: readonly string[],
): Promise<void> {
  if (events.length === 0) {
    return;
  }
  const seen = new Set<string>();
  for (let i = 0; i < events.length; i += EVENT_CHUNK * 10) {
    const ids = JSON.stringify(events.slice(i, i + EVENT_CHUNK * 10).map((e) => e.id));
    for (const row of await tx.query<{ id: string }>(EXISTING_EVENTS, [ids])) {
      seen.add(row.id);
    }
  }
  const fresh: { group: ReturnType<typeof sharedColumns>[number]; event: EventRow }[] = [];
  for (const group of sharedColumns(events)) {
    for (const e of group.events) {
      if (seen.has(e.id)) {
        continue; // stored already (a retried run), or twice in this list
      }
      seen.add(e.id);
      fresh.push({ group, event: e });
    }
  }
  if (fresh.length === 0) {
    return;
  }
  const [next] = await tx.query<{ first: string }>(NEXT_SEQ);
  const first = BigInt(next!.first);
  await tx.query(RESERVE_SEQ, [String(first + BigInt(fresh.length) - 1n)]);
  const rows: string[] = [];
  const deliveries: string[] = [];
  fresh.forEach(({ group, event: e }, i) => {
    const seq = String(first + BigInt(i));
    rows.push(
      copyRow([
        seq,
        e.id,
        group.runId,
        group.mapping,
        e.type,
        group.product,
        group.occurredAt,
        JSON.stringify(e.user),
      ]),
    );
    for (const sink of sinks) {
      deliveries.push(copyRow([e.id, sink, seq]));
    }
  });
  if (rows.length > 0) {
    await copyFrom(COPY_EVENTS, rows.join(""));
  }
  if (deliveries.length > 0) {
    await copyFrom(COPY_DELIVERIES, deliveries.join(""));
  }
}

/** Consecutive events that share run id, mapping, product and time (all of a run's, in practice). */
function sharedColumns(events: readonly EventRow[]): {
  runId: string;
  mapping: string;
  /** JSON */
  product: string;
  /** ISO 8601 */
  occurredAt: string;
  events: EventRow[];
}[] {
  const groups: ReturnType<typeof sharedColumns> = [];
  let last: EventRow | undefined;
  let lastProduct = "";
  for (const e of events) {
    const product = last && e.product === last.product ? lastProduct : JSON.stringify(e.product);
    const group = groups.at(-1);
    if (
      group &&
      last &&
      e.runId === last.runId &&
      e.mapping === last.mapping &&
      product === lastProduct &&
      e.occurredAt.getTime() === last.occurredAt.getTime()
    ) {
      group.events.push(e);
    } else {
      // toISOString throws for an invalid date: the transaction is rolled back.
      groups.push({
        runId: e.runId,
        mapping: e.mapping,
        product,
        occurredAt: e.occurredAt.toISOString(),
        events: [e],
      });
    }
    last = e;
    lastProduct = product;
  }
  return groups;
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
 * mapping). Failed deliveries are not returned.
 */
export async function pendingDeliveries(
  db: StoreDb,
  sink: string,
  limit: number,
): Promise<PendingDelivery[]> {
  // (sink, state, event_seq) is an index: the first `limit` pending rows in outbox order, without
  // joining and sorting every pending row (0.3 s a batch with 100k pending before it existed).
  const rows = await db.prisma.eventDelivery.findMany({
    where: { sink, state: "pending" },
    orderBy: { eventSeq: "asc" },
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
  const mark = db.prisma.eventDelivery.updateMany({
    where: { sink, eventId: { in: [...eventIds] } },
    data: { state: "delivered", deliveredAt: now, attempts: { increment: 1 }, lastError: null },
  });
  if (opts.position === undefined) {
    // One statement needs no transaction around it; BEGIN and COMMIT were most of the cost of the
    // webhook sink's frequent small marks.
    await mark;
    return;
  }
  await db.prisma.$transaction([
    mark,
    db.prisma.sinkState.upsert({
      where: { sink },
      create: { sink, position: opts.position, updatedAt: now },
      update: { position: opts.position, updatedAt: now },
    }),
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

/** An event whose delivery is over for good (refused, or out of attempts): state `failed`, which the
 * relay skips from now on, until a person makes it pending again. */
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
