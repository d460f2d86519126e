// What the worker's health and metrics endpoints (worker/http.ts) ask of the store. Counts are read
// at scrape time, so each is one GROUP BY that an index can answer without reading the table.

import type { DeliveryState } from "./outbox.js";
import type { StoreDb } from "./db.js";

/** Members in one mapping's current snapshot. */
export interface MemberCount {
  mapping: string;
  count: number;
}

/** Outbox deliveries to one sink in one state. */
export interface DeliveryCount {
  sink: string;
  state: DeliveryState;
  count: number;
}

/** Members per mapping; a mapping without a snapshot is absent rather than 0. */
export async function memberCounts(db: StoreDb): Promise<MemberCount[]> {
  // Index-only: snapshot_members' primary key starts with mapping.
  const rows = await db.prisma.snapshotMember.groupBy({ by: ["mapping"], _count: { _all: true } });
  return rows.map((r) => ({ mapping: r.mapping, count: r._count._all }));
}

/** Deliveries per sink and state; a pair with no rows is absent rather than 0. */
export async function deliveryCounts(db: StoreDb): Promise<DeliveryCount[]> {
  // Index-only: event_deliveries has an index on (sink, state, event_seq).
  const rows = await db.prisma.eventDelivery.groupBy({ by: ["sink", "state"], _count: { _all: true } });
  return rows.map((r) => ({ sink: r.sink, state: r.state as DeliveryState, count: r._count._all }));
}

/** Resolves when the database answers a trivial query (for /healthz). */
export async function ping(db: StoreDb): Promise<void> {
  await db.prisma.$queryRaw`SELECT 1`;
}
