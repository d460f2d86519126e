// The outbox relay against a real database (the private PostgreSQL, plus PGlite for the main
// scenario), a real webhook receiver on 127.0.0.1 that verifies every signature, and the private
// Redis for the queue sink and the example consumer. Events are written by commitRun, as a sync does.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { startConsumer, type Provisioner } from "../../examples/provisioning-consumer.js";
import { sinkSchema, type SinkConfig } from "../../src/config/schema.js";
import { toRosterEvent } from "../../src/events/format.js";
import { createRelay, sinkName, type RelayResult } from "../../src/events/relay.js";
import { JOB_OPTIONS } from "../../src/events/sinks/queue.js";
import { openDatabase, type Database } from "../../src/store/db.js";
import { listEvents, pendingDeliveries } from "../../src/store/index.js";
import type { RosterEvent } from "../../src/sync/events.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { commitEvents, deliveryStates, memoryLogger, relayOnClock } from "../helpers/outbox.js";
import {
  ok,
  startReceiver as startWebhookReceiver,
  type Answer,
  type WebhookReceiver,
} from "../helpers/webhook-receiver.js";

const SECRET = "whsec_relay-test-0f3c9a";
const WAIT_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Helpers

/** Two mappings, three runs, interleaved: the outbox order is the order of the returned ids. */
async function commitMixed(db: Database, sinks: readonly string[], tag: string): Promise<string[]> {
  const a = await commitEvents(db, sinks, `${tag}-ela6`, ["s1", "s2", "s3"]);
  const b = await commitEvents(db, sinks, `${tag}-math7`, ["t1", "t2"]);
  const c = await commitEvents(db, sinks, `${tag}-ela6`, ["s2", "s3"], "remove");
  return [...a, ...b, ...c].map((e) => e.id);
}

/** A receiver (test/helpers/webhook-receiver.ts) closed after the suite. */
async function startReceiver(answer: Answer): Promise<WebhookReceiver> {
  const receiver = await startWebhookReceiver(SECRET, answer);
  servers.add(receiver.stop);
  return receiver;
}
const servers = new Set<() => Promise<void>>();

function webhookSink(url: string, timeoutMs = 5000): SinkConfig {
  return sinkSchema.parse({ type: "webhook", url, secret: SECRET, timeoutMs });
}

/** Resolves when `count()` reaches `n`, checking on every `emitter` event; rejects after WAIT_MS. */
function waitForCount(
  emitter: {
    on: (e: "completed", f: () => void) => unknown;
    off: (e: "completed", f: () => void) => unknown;
  },
  count: () => number,
  n: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (count() >= n) {
        clearTimeout(timer);
        emitter.off("completed", check);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      emitter.off("completed", check);
      reject(new Error(`timed out waiting for ${n} (have ${count()})`));
    }, WAIT_MS);
    emitter.on("completed", check);
    check();
  });
}

// ---------------------------------------------------------------------------------------------

describe.each(["postgres", "pglite"] as const)("webhook sink on %s", (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    db = await openDatabase(target.url, { owner: "relay test" });
  });
  afterAll(async () => {
    await Promise.all([...servers].map((stop) => stop().catch(() => undefined)));
    await db?.close();
    await target?.drop();
  });

  it("receiver down (503, then a closed port) then up: every event arrives once, in order, signed", async () => {
    const receiver = await startReceiver(() => ({ status: 503, body: "maintenance" }));
    const sink = webhookSink(receiver.url);
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], `a-${kind}`);
    const { logger, lines } = memoryLogger();
    const { relay, t } = relayOnClock(db, sink, logger);
    try {
      expect(relay.sinks).toEqual([name]);

      // Down, answering 503: nothing delivered; the first event was tried once and stays pending.
      const [first] = await relay.relayOnce();
      expect(first).toMatchObject({ sink: name, type: "webhook", delivered: 0, failed: 0 });
      expect(first!.error).toContain("503");
      expect(first!.retryAt).toEqual(new Date(t.now() + 500));
      expect(receiver.received.map((r) => r.id)).toEqual([ids[0]]);
      let pending = await pendingDeliveries(db, name, 100);
      expect(pending.map((p) => p.id)).toEqual(ids);
      expect(pending[0]).toMatchObject({ attempts: 1 });
      expect(pending[0]!.lastError).toContain("503");
      expect(pending.slice(1).every((p) => p.attempts === 0)).toBe(true);

      // Backing off: relayOnce does not touch the receiver.
      for (let i = 0; i < 20; i += 1) {
        expect((await relay.relayOnce())[0]).toMatchObject({ skipped: "backoff", delivered: 0 });
      }
      expect(receiver.received).toHaveLength(1);

      // Down, port closed: a network error, also transient.
      await receiver.stop();
      t.advance(500);
      const [second] = await relay.relayOnce();
      expect(second!.error).toMatch(/ECONNREFUSED/);
      expect(second!.delivered).toBe(0);
      // Second consecutive failure: 1 s ± jitter (random 0 → 1000 ms).
      expect(second!.retryAt).toEqual(new Date(t.now() + 1000));
      pending = await pendingDeliveries(db, name, 100);
      expect(pending.map((p) => p.id)).toEqual(ids);
      expect(pending[0]).toMatchObject({ attempts: 2 });

      // Up again.
      await receiver.start();
      receiver.setAnswer(ok);
      t.advance(1000);
      const [third] = await relay.relayOnce();
      expect(third).toMatchObject({ delivered: ids.length, failed: 0 });
      expect(third!.error).toBeUndefined();
      expect(receiver.accepted()).toEqual(ids);
      for (const r of receiver.received) {
        expect(r.signatureValid).toBe(true);
        expect(r.eventIdHeader).toBe(r.id);
        expect(r.contentType).toBe("application/json");
      }
      const stored = await listEvents(db, { limit: 10_000 });
      expect(receiver.received.slice(-ids.length).map((r) => r.body)).toEqual(
        ids.map((id) => toRosterEvent(stored.find((e) => e.id === id)!)),
      );
      expect(await deliveryStates(db, name, ids)).toEqual(ids.map(() => "delivered"));
      expect(await pendingDeliveries(db, name, 100)).toEqual([]);

      // Nothing more to do: no request.
      const before = receiver.received.length;
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 0 });
      expect(receiver.received).toHaveLength(before);

      // The secret is in no error and no log line.
      expect(lines.join("")).not.toContain(SECRET);
      expect(
        (await listEvents(db, { limit: 10_000 })).flatMap((e) => e.deliveries.map((d) => d.lastError ?? "")),
      ).not.toContain(SECRET);
      expect(lines.some((l) => l.includes("event delivery failed"))).toBe(true);
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });

  it("a 400 parks that event as failed and the following events still go; a 2nd pass skips it", async () => {
    const receiver = await startReceiver(ok);
    const sink = webhookSink(receiver.url);
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], `b-${kind}`);
    const refused = ids[2]!;
    receiver.setAnswer((event) =>
      event.id === refused ? { status: 400, body: "unknown school org-1" } : { status: 204 },
    );
    const relay = createRelay({ db, sinks: [sink], logger: memoryLogger().logger });
    try {
      const [result] = await relay.relayOnce();
      expect(result).toMatchObject({ delivered: ids.length - 1, failed: 1 });
      expect(result!.error).toBeUndefined();
      expect(receiver.received.map((r) => r.id)).toEqual(ids);
      expect(receiver.accepted()).toEqual(ids.filter((id) => id !== refused));
      expect(await deliveryStates(db, name, ids)).toEqual(
        ids.map((id) => (id === refused ? "failed" : "delivered")),
      );
      const parked = (await listEvents(db, { limit: 10_000 }))
        .find((e) => e.id === refused)!
        .deliveries.find((d) => d.sink === name)!;
      expect(parked).toMatchObject({ state: "failed", attempts: 1 });
      expect(parked.lastError).toContain("400");
      expect(parked.lastError).toContain("unknown school org-1");

      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: 0, failed: 0 });
      expect(receiver.received).toHaveLength(ids.length);
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });

  it("honours Retry-After (seconds and HTTP date) and does not hammer a receiver that is down", async () => {
    const receiver = await startReceiver(() => ({ status: 429, headers: { "retry-after": "120" } }));
    const sink = webhookSink(receiver.url);
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], `c-${kind}`);
    const { relay, t } = relayOnClock(db, sink);
    try {
      const [first] = await relay.relayOnce();
      expect(first!.error).toContain("429");
      expect(first!.retryAt).toEqual(new Date(t.now() + 120_000));

      // A worker calling relayOnce every second for two minutes: no request reaches the receiver.
      for (let s = 0; s < 119; s += 1) {
        t.advance(1000);
        expect((await relay.relayOnce())[0]!.skipped).toBe("backoff");
      }
      expect(receiver.received).toHaveLength(1);

      // Now an HTTP-date Retry-After, 10 minutes ahead.
      t.advance(1000);
      const retryDate = new Date(t.now() + 600_000).toUTCString();
      receiver.setAnswer(() => ({ status: 503, headers: { "retry-after": retryDate } }));
      const [second] = await relay.relayOnce();
      expect(second!.error).toContain("503");
      expect(receiver.received).toHaveLength(2);
      const wait = second!.retryAt!.getTime() - t.now();
      expect(wait).toBe(600_000);
      t.advance(wait - 1);
      expect((await relay.relayOnce())[0]!.skipped).toBe("backoff");
      expect(receiver.received).toHaveLength(2);

      receiver.setAnswer(ok);
      t.advance(1);
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: ids.length });
      expect(receiver.accepted()).toEqual(ids);
      expect(receiver.received).toHaveLength(ids.length + 2);
      expect(await pendingDeliveries(db, name, 100)).toEqual([]);
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });

  it("a receiver that does not answer within timeoutMs counts as down", async () => {
    const receiver = await startReceiver(() => "hang");
    const sink = webhookSink(receiver.url, 200);
    const name = sinkName(sink);
    const ids = await commitEvents(db, [name], `d-${kind}`, ["x1", "x2"]);
    const relay = createRelay({ db, sinks: [sink], logger: memoryLogger().logger });
    try {
      const [result] = await relay.relayOnce();
      expect(result).toMatchObject({ delivered: 0 });
      expect(result!.error).toMatch(/timeout/i);
      expect((await pendingDeliveries(db, name, 10)).map((p) => p.id)).toEqual(ids.map((e) => e.id));
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });

  it("concurrent passes of one relay never send an event twice; a crash before marking re-sends it", async () => {
    const receiver = await startReceiver(ok);
    const sink = webhookSink(receiver.url);
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], `e-${kind}`);
    const relay = createRelay({ db, sinks: [sink], logger: memoryLogger().logger });
    try {
      // While the first pass runs (inside the receiver's first answer), more events are committed
      // and two more passes asked for: they wait for the first, share one pass, and send only what
      // the first did not.
      let more: Promise<[RelayResult[], RelayResult[]]> | undefined;
      let late: string[] = [];
      receiver.setAnswer(() => {
        more ??= commitEvents(db, [name], `e2-${kind}`, ["late1", "late2"]).then((events) => {
          late = events.map((e) => e.id);
          return Promise.all([relay.relayOnce(), relay.relayOnce()]);
        });
        return { status: 200 };
      });
      const [first] = await relay.relayOnce();
      const [[second], [third]] = await more!;
      expect(second).toBe(third);
      expect(first!.delivered + second!.delivered).toBe(ids.length + late.length);
      expect(receiver.accepted()).toEqual([...ids, ...late]);
      ids.push(...late);

      // A relay that died after the receiver answered and before markDelivered: the events are
      // pending again, and go again (the documented at-least-once case; same ids, same bodies).
      await db.prisma.$executeRawUnsafe(
        `UPDATE event_deliveries SET state = 'pending', delivered_at = NULL WHERE sink = $1`,
        name,
      );
      expect((await relay.relayOnce())[0]).toMatchObject({ delivered: ids.length });
      expect(receiver.accepted()).toEqual([...ids, ...ids]);
      expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });
});

describe("queue sink, sinks side by side, and the example consumer (Redis)", () => {
  let target: TestDatabase;
  let db: Database;
  let dir: string;
  const redisUrl = inject("redisUrl");
  const queues: Queue[] = [];

  /** A fresh queue name and prefix per test, and a Queue handle to inspect (obliterated afterwards). */
  function queueSink(): {
    sink: Extract<SinkConfig, { type: "queue" }>;
    prefix: string;
    queue: Queue<RosterEvent>;
  } {
    const suffix = randomBytes(4).toString("hex");
    const prefix = `{relay-test-${suffix}}`;
    const sink = { type: "queue" as const, name: `roster-events-${suffix}` };
    const queue = new Queue<RosterEvent>(sink.name, { connection: { url: redisUrl }, prefix });
    queues.push(queue);
    return { sink, prefix, queue };
  }

  beforeAll(async () => {
    target = await createTestDatabase("postgres");
    db = await openDatabase(target.url, { owner: "relay test" });
    dir = await mkdtemp(join(tmpdir(), "roster-sync-relay-"));
  });
  afterAll(async () => {
    for (const queue of queues) {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
    await Promise.all([...servers].map((stop) => stop().catch(() => undefined)));
    await db?.close();
    await target?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("adds one job per event (id = event id, name = type, data = event), and no duplicate on re-delivery", async () => {
    const { sink, prefix, queue } = queueSink();
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], "q");
    const relay = createRelay({
      db,
      sinks: [sink],
      logger: memoryLogger().logger,
      redis: { url: redisUrl, prefix },
    });
    try {
      expect((await relay.relayOnce())[0]).toMatchObject({
        sink: name,
        type: "queue",
        delivered: ids.length,
      });
    } finally {
      await relay.close();
    }
    const jobs = await queue.getJobs(["wait"], 0, -1, true);
    expect(jobs.map((j) => j.id)).toEqual(ids);
    const stored = await listEvents(db, { limit: 10_000 });
    for (const job of jobs) {
      const event = toRosterEvent(stored.find((e) => e.id === job.id)!);
      expect(job.name).toBe(event.type);
      expect(job.data).toEqual(event);
      expect(job.opts).toMatchObject({
        removeOnComplete: JOB_OPTIONS.removeOnComplete,
        attempts: JOB_OPTIONS.attempts,
      });
    }
    expect(await deliveryStates(db, name, ids)).toEqual(ids.map(() => "delivered"));

    // A crash after addBulk and before markDelivered: a new relay delivers them again, BullMQ keeps one job per id.
    await db.prisma.$executeRawUnsafe(
      `UPDATE event_deliveries SET state = 'pending', delivered_at = NULL WHERE sink = $1`,
      name,
    );
    const again = createRelay({
      db,
      sinks: [sink],
      logger: memoryLogger().logger,
      redis: { url: redisUrl, prefix },
    });
    try {
      expect((await again.relayOnce())[0]).toMatchObject({ delivered: ids.length });
    } finally {
      await again.close();
    }
    expect(await queue.getJobCountByTypes("wait", "active", "completed", "failed", "delayed")).toBe(
      ids.length,
    );
    expect((await queue.getJobs(["wait"], 0, -1, true)).map((j) => j.id)).toEqual(ids);
  });

  it("Redis unreachable: the queue sink fails within its timeout, events stay pending, close() returns", async () => {
    const receiver = await startReceiver(ok);
    await receiver.stop(); // a free loopback port where nothing listens
    const port = new URL(receiver.url).port;
    const sink = { type: "queue" as const, name: `roster-events-${randomBytes(4).toString("hex")}` };
    const name = sinkName(sink);
    const ids = await commitMixed(db, [name], "q-down");
    const relay = createRelay({
      db,
      sinks: [sink],
      logger: memoryLogger().logger,
      redis: { url: `redis://127.0.0.1:${port}`, prefix: "{relay-test-down}" },
      queueTimeoutMs: 300,
    });
    try {
      const [result] = await relay.relayOnce();
      expect(result).toMatchObject({ delivered: 0 });
      expect(result!.error).toMatch(/no answer from Redis within 300 ms/);
      expect(result!.retryAt).toBeInstanceOf(Date);
      const pending = await pendingDeliveries(db, name, 100);
      expect(pending.map((p) => p.id)).toEqual(ids);
      expect(pending.every((p) => p.attempts === 1)).toBe(true);
    } finally {
      await relay.close();
    }
  });

  it("one sink down does not stop the others: webhook down, file and queue delivered", async () => {
    const receiver = await startReceiver(ok);
    await receiver.stop(); // a closed port
    const webhook = webhookSink(receiver.url);
    const file: SinkConfig = { type: "file", path: join(dir, "events.ndjson") };
    const { sink: queue, prefix, queue: inspect } = queueSink();
    const sinks = [webhook, file, queue];
    const ids = await commitMixed(db, sinks.map(sinkName), "side");
    const relay = createRelay({ db, sinks, logger: memoryLogger().logger, redis: { url: redisUrl, prefix } });
    try {
      const results = await relay.relayOnce();
      expect(results.map((r) => [r.type, r.delivered, r.error === undefined])).toEqual([
        ["webhook", 0, false],
        ["file", ids.length, true],
        ["queue", ids.length, true],
      ]);
      const lines = (await readFile(file.path, "utf8")).trim().split("\n");
      expect(lines.map((l) => (JSON.parse(l) as RosterEvent).id)).toEqual(ids);
      expect((await inspect.getJobs(["wait"], 0, -1, true)).map((j) => j.id)).toEqual(ids);
      expect((await pendingDeliveries(db, sinkName(webhook), 100)).map((p) => p.id)).toEqual(ids);

      // A subset by name (what a worker holding one sink's lock does).
      expect((await relay.relayOnce({ sinks: [sinkName(file)] })).map((r) => r.sink)).toEqual([
        sinkName(file),
      ]);

      // `sync`'s relay: only file and webhook sinks, and no Redis needed.
      const syncRelay = createRelay({ db, sinks, logger: memoryLogger().logger, only: ["file", "webhook"] });
      expect(syncRelay.sinks).toEqual([sinkName(webhook), sinkName(file)]);
      await syncRelay.close();

      // The webhook comes back: its events follow, in order.
      await receiver.start();
      const later = createRelay({ db, sinks: [webhook], logger: memoryLogger().logger });
      try {
        expect((await later.relayOnce())[0]).toMatchObject({ delivered: ids.length });
      } finally {
        await later.close();
      }
      expect(receiver.accepted()).toEqual(ids);
    } finally {
      await relay.close();
      await receiver.stop();
    }
  });

  it("the example consumer applies each event once, even when it is delivered twice", async () => {
    const { sink, prefix, queue } = queueSink();
    const name = sinkName(sink);
    const adds = await commitEvents(db, [name], "consumer", ["u1", "u2", "u3"]);
    const removes = await commitEvents(db, [name], "consumer", ["u2"], "remove");
    const relay = createRelay({
      db,
      sinks: [sink],
      logger: memoryLogger().logger,
      redis: { url: redisUrl, prefix },
    });
    try {
      await relay.relayOnce();
    } finally {
      await relay.close();
    }

    const calls: string[] = [];
    const record =
      (verb: string) =>
      async (product: string, user: RosterEvent["user"]): Promise<void> => {
        calls.push(`${verb} ${product} ${user.sourcedId}`);
      };
    const provisioner: Provisioner = {
      grant: record("grant"),
      update: record("update"),
      revoke: record("revoke"),
    };
    const stateKey = `provisioning-test-${randomBytes(4).toString("hex")}`;
    const consumer = startConsumer({ redisUrl, prefix, queueName: sink.name, stateKey, provisioner });
    const results: string[] = [];
    consumer.worker.on("completed", (_job, result) => results.push(result));
    try {
      await waitForCount(consumer.worker, () => results.length, 4);
      expect(calls).toEqual([
        "grant creative-cloud u1",
        "grant creative-cloud u2",
        "grant creative-cloud u3",
        "revoke creative-cloud u2",
      ]);
      expect(results).toEqual(["applied", "applied", "applied", "applied"]);

      // The same event again as another job (as after its job was removed from Redis and a relay
      // re-delivered it), and an older event arriving after a newer one for the same user.
      const stored = await listEvents(db, { limit: 10_000 });
      const asEvent = (id: string): RosterEvent => toRosterEvent(stored.find((e) => e.id === id)!);
      await queue.add("add", asEvent(adds[0]!.id), { jobId: `${adds[0]!.id}-again` });
      await queue.add("remove", asEvent(removes[0]!.id), { jobId: `${removes[0]!.id}-again` });
      const staleAdd = { ...asEvent(adds[1]!.id), id: "evt_replayed-old-add" };
      await queue.add("add", staleAdd, { jobId: staleAdd.id });
      await waitForCount(consumer.worker, () => results.length, 7);
      expect(results.slice(4)).toEqual(["duplicate", "duplicate", "stale"]);
      expect(calls).toHaveLength(4);
    } finally {
      await consumer.close();
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${stateKey}:*`);
      if (keys.length > 0) {
        await redis.del(...keys);
      }
      await redis.quit();
    }
  });
});
