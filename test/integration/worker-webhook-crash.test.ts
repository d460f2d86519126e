// The worker SIGKILLed while it relays events to a webhook receiver on 127.0.0.1 (issue 9, item 7:
// one re-sent 40 of 193 events, its progress being saved every 100). A restarted worker delivers
// the rest; the events sent twice are at most the sink's `saveProgressEvery` (default 5).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sinkSchema } from "../../src/config/schema.js";
import { sinkName } from "../../src/events/relay.js";
import { listEvents, pendingDeliveries } from "../../src/store/index.js";
import { startReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { spawnWorker, testPrefix, useWorkerFixture, waitFor, writeWorkerConfig } from "../helpers/worker.js";

const suite = useWorkerFixture("worker-webhook-crash");

const SECRET = "whsec_worker-crash-41d0";
/** The default of `saveProgressEvery`. */
const SAVE_EVERY = 5;
/** The event whose arrival kills the worker (it is never answered). */
const KILL_AT = 143;

let receiver: WebhookReceiver;
let kill: (() => void) | undefined;

beforeAll(async () => {
  receiver = await startReceiver(SECRET, () => {
    if (receiver.received.length === KILL_AT && kill) {
      kill();
      return "hang";
    }
    return { status: 200 };
  });
});

afterAll(async () => {
  await receiver?.stop();
});

describe("a worker killed while it delivers to a webhook", () => {
  it(`re-sends at most ${SAVE_EVERY} events after a restart`, async () => {
    const prefix = testPrefix();
    suite.prefixes.push(prefix);
    const config = path.join(suite.dir, "webhook-crash.yaml");
    const sink = { type: "webhook", url: receiver.url, secret: SECRET };
    await writeWorkerConfig(config, {
      databaseUrl: suite.testDb.url,
      redisUrl: suite.redisUrl,
      prefix,
      sandboxUrl: suite.sandbox.url,
      // Every student of the district (a few hundred adds); a new `every:` mapping runs at once.
      mappings: [{ name: "all-students", schedule: { every: "1h" }, groups: [] }],
      eventsPath: path.join(suite.dir, "unused.ndjson"),
      sinks: [sink],
    });

    const first = await spawnWorker(config, { cwd: suite.dir });
    suite.workers.push(first);
    kill = () => first.child.kill("SIGKILL");
    expect((await first.exited).signal, first.output()).toBe("SIGKILL");
    expect(receiver.received).toHaveLength(KILL_AT);

    const second = await spawnWorker(config, { cwd: suite.dir });
    suite.workers.push(second);
    const name = sinkName(sinkSchema.parse(sink));
    await waitFor(async () => (await pendingDeliveries(suite.db, name, 1)).length === 0, {
      timeoutMs: 60_000,
      what: "every event delivered by the restarted worker",
    });

    const events = (await listEvents(suite.db, { mapping: "all-students", limit: 10_000 })).filter((e) =>
      e.deliveries.some((d) => d.sink === name),
    );
    expect(events.length).toBeGreaterThan(KILL_AT + 50);
    expect(events.every((e) => e.deliveries[0]?.state === "delivered")).toBe(true);
    expect([...new Set(receiver.accepted())]).toEqual(events.map((e) => e.id));
    const resent = receiver.received.length - new Set(receiver.received.map((r) => r.id)).size;
    // The unanswered event is always sent again; the others only if their delivery was not saved yet.
    expect(resent).toBeGreaterThanOrEqual(1);
    expect(resent).toBeLessThanOrEqual(SAVE_EVERY);
  });
});
