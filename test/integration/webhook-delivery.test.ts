// The webhook sink when things go wrong, against the private PostgreSQL and a real receiver on
// 127.0.0.1: a receiver slower than the timeout is retried with growing, capped backoff and the
// event fails after `maxAttempts` (visible in the outbox, the log and /metrics) while later events
// go on; a receiver that refuses every event (a wrong secret) is retried, never failed wholesale;
// a Retry-After is capped at `maxRetryAfterMs`; and delivered events are recorded every
// `saveProgressEvery` events or `saveProgressMs`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { sinkSchema, type SinkConfig } from "../../src/config/schema.js";
import { createRelay, sinkName } from "../../src/events/relay.js";
import { listEvents, pendingDeliveries } from "../../src/store/index.js";
import { createMetrics } from "../../src/worker/http.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import {
  clock,
  commitEvents,
  deliveryStates,
  memoryLogger,
  openDatabase,
  relayOnClock,
  type Database,
} from "../helpers/outbox.js";
import { ok, startReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";

const SECRET = "whsec_delivery-test-5b2e71";

let target: TestDatabase;
let db: Database;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  target = await createTestDatabase("postgres");
  db = await openDatabase(target.url, { owner: "webhook delivery test" });
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop().catch(() => undefined)));
  await db?.close();
  await target?.drop();
});

async function receiver(answer: Parameters<typeof startReceiver>[1]): Promise<WebhookReceiver> {
  const r = await startReceiver(SECRET, answer);
  receivers.push(r);
  return r;
}

function webhook(url: string, fields: Record<string, unknown> = {}): SinkConfig {
  return sinkSchema.parse({ type: "webhook", url, secret: SECRET, ...fields });
}

/** The delivery row of one event to one sink. */
async function delivery(id: string, sink: string) {
  const event = (await listEvents(db, { limit: 10_000 })).find((e) => e.id === id);
  return event?.deliveries.find((d) => d.sink === sink);
}

/** Events of the mapping that the outbox records as delivered (each has one sink here). */
async function deliveredCount(mapping: string): Promise<number> {
  const events = await listEvents(db, { mapping, limit: 10_000 });
  return events.filter((e) => e.deliveries[0]?.state === "delivered").length;
}

describe("webhook delivery failures", () => {
  it("a receiver slower than timeoutMs: retried with growing, capped backoff, failed after maxAttempts, later events go", async () => {
    let slowId = "";
    const r = await receiver((event) => (event.id === slowId ? "hang" : { status: 204 }));
    const sink = webhook(r.url, {
      timeoutMs: 150,
      maxAttempts: 4,
      retryDelayMs: 1000,
      maxRetryDelayMs: 3000,
    });
    const name = sinkName(sink);
    const ids = (await commitEvents(db, [name], "slow-ela6", ["s1", "s2", "s3"])).map((e) => e.id);
    slowId = ids[0]!;
    const { logger, lines } = memoryLogger();
    const { relay, t } = relayOnClock(db, sink, logger);
    const metrics = createMetrics(db, logger);
    try {
      // Equal jitter with random 0: half the ceiling, the ceiling doubling from retryDelayMs and
      // capped at maxRetryDelayMs.
      const waits: number[] = [];
      for (let attempt = 1; attempt < 4; attempt += 1) {
        const [result] = await relay.relayOnce();
        metrics.observer.relayed(result!);
        expect(result).toMatchObject({ delivered: 0, failed: 0 });
        expect(result!.error).toMatch(/timeout/i);
        waits.push(result!.retryAt!.getTime() - t.now());
        expect((await delivery(slowId, name))!).toMatchObject({ state: "pending", attempts: attempt });
        expect((await relay.relayOnce())[0]!.skipped).toBe("backoff");
        t.advance(waits.at(-1)!);
      }
      expect(waits).toEqual([500, 1000, 1500]); // uncapped, the third would be 2000
      expect(r.received.map((x) => x.id)).toEqual([slowId, slowId, slowId]);

      // The 4th attempt is the last: the event fails; after the backoff the ones after it go, in order.
      const [last] = await relay.relayOnce();
      metrics.observer.relayed(last!);
      expect(last).toMatchObject({ delivered: 0, failed: 1 });
      expect(last!.retryAt!.getTime() - t.now()).toBe(1500);
      expect(await deliveryStates(db, name, ids)).toEqual(["failed", "pending", "pending"]);
      t.advance(1500);
      const [next] = await relay.relayOnce();
      metrics.observer.relayed(next!);
      expect(next).toMatchObject({ delivered: 2, failed: 0 });
      expect(next!.error).toBeUndefined();
      expect(r.accepted()).toEqual(ids.slice(1));
      expect(await deliveryStates(db, name, ids)).toEqual(["failed", "delivered", "delivered"]);
      const failed = (await delivery(slowId, name))!;
      expect(failed).toMatchObject({ state: "failed", attempts: 4 });
      expect(failed.lastError).toMatch(/timeout/i);
      expect(failed.lastError).toContain("attempt 4 of 4: given up");

      // Logged as an error naming the event, and counted in /metrics, per sink.
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged).toContainEqual(
        expect.objectContaining({ level: 50, sink: name, eventId: slowId, attempts: 4 }),
      );
      const text = await metrics.registry.metrics();
      expect(text).toContain(`roster_sync_events_failed_total{sink="${name}"} 1`);
      expect(text).toContain(`roster_sync_event_deliveries{sink="${name}",state="failed"} 1`);
      expect(text).toContain(`roster_sync_relay_errors_total{sink="${name}"} 4`);

      // A failed event is not tried again.
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 0, failed: 0 });
      expect(r.received).toHaveLength(6); // 4 attempts of the slow one, 2 others
      expect(lines.join("")).not.toContain(SECRET);
    } finally {
      await relay.close();
      await r.stop();
    }
  });

  it("401 on every event (a wrong secret) is retried, not failed at once: one event fails per maxAttempts, the rest wait", async () => {
    const r = await receiver(() => ({ status: 401, body: "bad signature" }));
    const sink = webhook(r.url, { maxAttempts: 2 });
    const name = sinkName(sink);
    const ids = (await commitEvents(db, [name], "secret-math7", ["t1", "t2", "t3", "t4"])).map((e) => e.id);
    const { relay, t } = relayOnClock(db, sink);
    try {
      const [first] = await relay.relayOnce();
      expect(first).toMatchObject({ delivered: 0, failed: 0 });
      expect(first!.error).toContain("401");
      expect(await deliveryStates(db, name, ids)).toEqual(["pending", "pending", "pending", "pending"]);

      // The 2nd attempt of t1 fails it, and the sink backs off before t2.
      t.advance(first!.retryAt!.getTime() - t.now());
      const [second] = await relay.relayOnce();
      expect(second).toMatchObject({ delivered: 0, failed: 1 });
      expect(second!.error).toContain("401");
      expect(await deliveryStates(db, name, ids)).toEqual(["failed", "pending", "pending", "pending"]);
      expect(r.received.map((x) => x.id)).toEqual([ids[0], ids[0]]);
      expect((await relay.relayOnce())[0]!.skipped).toBe("backoff");

      // The secret is fixed on the receiver's side: the rest go, in order.
      r.setAnswer(ok);
      t.advance(second!.retryAt!.getTime() - t.now());
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 3, failed: 0 });
      expect(r.accepted()).toEqual(ids.slice(1));
      expect(await pendingDeliveries(db, name, 10)).toEqual([]);
    } finally {
      await relay.close();
      await r.stop();
    }
  });

  it("a Retry-After longer than maxRetryAfterMs waits maxRetryAfterMs; a shorter one is honoured", async () => {
    const r = await receiver(() => ({ status: 503, headers: { "retry-after": "120" } }));
    const sink = webhook(r.url, { maxRetryAfterMs: 60_000 });
    await commitEvents(db, [sinkName(sink)], "retry-after", ["r1"]);
    const { relay, t } = relayOnClock(db, sink);
    try {
      const [capped] = await relay.relayOnce();
      expect(capped!.retryAt!.getTime() - t.now()).toBe(60_000);
      t.advance(60_000);
      r.setAnswer(() => ({ status: 503, headers: { "retry-after": "59" } }));
      const [honoured] = await relay.relayOnce();
      expect(honoured!.retryAt!.getTime() - t.now()).toBe(59_000);
    } finally {
      await relay.close();
      await r.stop();
    }
  });

  it("delivered events are recorded every saveProgressEvery events, not once per batch", async () => {
    const gaps: number[] = [];
    // Before answering, the receiver counts what the outbox already records as delivered: every
    // event received before this one and not recorded would be sent again by a crash now.
    const r = await receiver(async () => {
      const delivered = await deliveredCount("progress-count");
      gaps.push(r.received.length - 1 - delivered);
      return { status: 200 };
    });
    const sink = webhook(r.url, { saveProgressEvery: 3, saveProgressMs: 60_000 });
    const name = sinkName(sink);
    const keys = Array.from({ length: 40 }, (_, i) => `p${i}`);
    await commitEvents(db, [name], "progress-count", keys);
    const relay = createRelay({ db, sinks: [sink], logger: memoryLogger().logger });
    try {
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 40 });
    } finally {
      await relay.close();
      await r.stop();
    }
    expect(gaps).toHaveLength(40);
    expect(Math.max(...gaps)).toBe(2);
  });

  it("…or every saveProgressMs, whichever comes first", async () => {
    const t = clock();
    const gaps: number[] = [];
    const r = await receiver(async () => {
      const delivered = await deliveredCount("progress-time");
      gaps.push(r.received.length - 1 - delivered);
      t.advance(400); // each answer takes 0.4 s on the relay's clock
      return { status: 200 };
    });
    const sink = webhook(r.url, { saveProgressEvery: 1000, saveProgressMs: 1000 });
    const name = sinkName(sink);
    await commitEvents(
      db,
      [name],
      "progress-time",
      Array.from({ length: 12 }, (_, i) => `q${i}`),
    );
    const relay = createRelay({ db, sinks: [sink], logger: memoryLogger().logger, now: t.now });
    try {
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 12 });
    } finally {
      await relay.close();
      await r.stop();
    }
    // Saved once 1 s has passed since the last save: after every 3rd answer.
    expect(Math.max(...gaps)).toBe(2);
  });
});
