// The counts behind the worker's database gauges, against both backends: what a mapping or a
// (sink, state) pair without rows reads as, and that delivering or parking moves an event's count.

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { openDatabase, type Database } from "../../src/store/db.js";
import {
  commitRun,
  deliveryCounts,
  markDelivered,
  markFailed,
  memberCounts,
  type DeliveryCount,
  type EventRow,
  type RunRow,
} from "../../src/store/index.js";
import type { Member } from "../../src/domain.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const SINKS = ["file:events.ndjson", "queue:roster-events"];

function member(key: string): Member {
  return {
    key,
    sourcedId: key,
    role: "student",
    username: null,
    email: null,
    givenName: null,
    familyName: null,
    grades: [],
    orgs: [],
  };
}

/** Commits a first run of `mapping` that adds `keys`, one `add` event each (id `evt_<key>`). */
async function addMembers(db: Database, mapping: string, keys: string[]): Promise<void> {
  const at = new Date(Date.UTC(2026, 10, 29, 7));
  const run: RunRow = {
    id: `run_${mapping}`,
    mapping,
    status: "succeeded",
    trigger: "cli",
    startedAt: at,
    finishedAt: at,
    members: keys.length,
    added: keys.length,
    removed: 0,
    updated: 0,
    requests: 1,
    durationMs: 0,
    error: null,
    forced: false,
  };
  const members = keys.map(member);
  const events = members.map(({ key, ...user }): EventRow => ({
    id: `evt_${key}`,
    runId: run.id,
    mapping,
    type: "add",
    product: "creative-cloud",
    occurredAt: at,
    user,
  }));
  await commitRun(db, { run, snapshot: { upserts: members, removes: [] }, events, sinks: SINKS });
}

// GROUP BY gives no order.
const bySinkAndState = (a: DeliveryCount, b: DeliveryCount): number =>
  a.sink.localeCompare(b.sink) || a.state.localeCompare(b.state);

describe.each(["pglite", "postgres"] as const)("store counts on %s", (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    db = await openDatabase(target.url, { owner: "roster-sync test" });
  });

  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it("are empty on an empty store", async () => {
    expect(await memberCounts(db)).toEqual([]);
    expect(await deliveryCounts(db)).toEqual([]);
  });

  it("count members per mapping and deliveries per sink and state", async () => {
    await addMembers(db, "m1", ["a1", "a2", "a3"]);
    await addMembers(db, "m2", ["b1"]);
    await markDelivered(db, "file:events.ndjson", ["evt_a1", "evt_a2"]);
    await markFailed(db, "queue:roster-events", "evt_b1", "400 Bad Request");

    const members = await memberCounts(db);
    expect(members.sort((a, b) => a.mapping.localeCompare(b.mapping))).toEqual([
      { mapping: "m1", count: 3 },
      { mapping: "m2", count: 1 },
    ]);
    expect((await deliveryCounts(db)).sort(bySinkAndState)).toEqual([
      { sink: "file:events.ndjson", state: "delivered", count: 2 },
      { sink: "file:events.ndjson", state: "pending", count: 2 },
      { sink: "queue:roster-events", state: "failed", count: 1 },
      { sink: "queue:roster-events", state: "pending", count: 3 },
    ]);
  });
});
