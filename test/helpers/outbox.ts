// Pieces the relay tests share: events committed as a sync commits them, a logger that keeps its
// lines, a controllable clock (and a relay on one), and each event's delivery state for one sink.
import { Writable } from "node:stream";

import pino from "pino";

import type { SinkConfig } from "../../src/config/schema.js";
import { createRelay, type Relay } from "../../src/events/relay.js";
import { openDatabase, type Database } from "../../src/store/db.js";
import { commitRun, listEvents, type EventRow } from "../../src/store/index.js";
import { eventId, newRunId } from "../../src/util/ids.js";

export { openDatabase, type Database };

/** A log sink that keeps every line, to check that no secret is ever logged. */
export function memoryLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** A controllable clock: relay backoff is checked without waiting. */
export interface Clock {
  now: () => number;
  advance: (ms: number) => void;
}

export function clock(start = Date.UTC(2026, 10, 29, 7, 0, 0)): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A relay of one sink on its own clock `t`, with jitter at 0 so that every backoff is exact. */
export function relayOnClock(
  db: Database,
  sink: SinkConfig,
  logger: pino.Logger = memoryLogger().logger,
): { relay: Relay; t: Clock } {
  const t = clock();
  return { relay: createRelay({ db, sinks: [sink], logger, now: t.now, random: () => 0 }), t };
}

let runTick = 0;
/** Commits one run of `mapping` with one event per key, as a sync would; returns them in order. */
export async function commitEvents(
  db: Database,
  sinks: readonly string[],
  mapping: string,
  keys: readonly string[],
  type: EventRow["type"] = "add",
): Promise<EventRow[]> {
  runTick += 1;
  const startedAt = new Date(Date.UTC(2026, 10, 29, 7, 0, 0) + runTick * 1000);
  const runId = newRunId(startedAt);
  const events: EventRow[] = keys.map((key) => ({
    id: eventId(runId, type, key),
    runId,
    mapping,
    type,
    product: "creative-cloud",
    occurredAt: startedAt,
    user: {
      sourcedId: key,
      role: "student",
      username: `user.${key}`,
      email: `${key}@school.example`,
      givenName: "Zoë",
      familyName: "Ñúñez",
      grades: ["06"],
      orgs: ["org-1"],
    },
  }));
  await commitRun(db, {
    run: {
      id: runId,
      mapping,
      status: "succeeded",
      trigger: "cli",
      startedAt,
      finishedAt: startedAt,
      members: keys.length,
      added: type === "add" ? keys.length : 0,
      removed: type === "remove" ? keys.length : 0,
      updated: type === "update" ? keys.length : 0,
      requests: 1,
      durationMs: 0,
      error: null,
      forced: false,
    },
    snapshot: { upserts: [], removes: [] },
    events,
    sinks,
  });
  return events;
}

export async function deliveryStates(db: Database, sink: string, ids: readonly string[]): Promise<string[]> {
  const events = await listEvents(db, { limit: 10_000 });
  const byId = new Map(events.map((e) => [e.id, e.deliveries.find((d) => d.sink === sink)?.state ?? "none"]));
  return ids.map((id) => byId.get(id) ?? "missing");
}
