// An example provisioning service: consumes the `roster-events` BullMQ queue that roster-sync's
// queue sink fills, and grants, updates or revokes a product for each event.
//
// Delivery is AT LEAST ONCE. roster-sync adds each event as a job whose id is the event id, so BullMQ
// itself drops a second copy while it still knows the job (completed jobs are kept 7 days). But an
// event can still arrive twice: BullMQ retries a job whose worker crashed after applying it and
// before completing it, and a job removed from Redis can be added again by a relay that crashed
// before marking the event delivered. So the consumer applies events idempotently:
//
//   1. the event id is looked up in a set of applied ids; a known id is skipped;
//   2. an event older than the last one applied for the same user and mapping is skipped (run ids
//      sort by time): a retried `add` must not undo a later `remove`;
//   3. the product is changed with "make it so" operations (grant = ensure granted), so even a crash
//      between 3 and 4 only repeats a harmless operation;
//   4. the id is recorded as applied.
// In a real service, do 3 and 4 in one transaction of your own database and the crash window is gone.
//
// Order: events of a mapping are added in order; one worker with concurrency 1 takes them in order.
//
// Run it: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/provisioning-consumer.ts
import { pathToFileURL } from "node:url";

import { Worker, type Job } from "bullmq";
import { Redis } from "ioredis";

import type { RosterEvent } from "../src/sync/events.js";

/** Your product's API. Each operation must be idempotent ("ensure"), as it may be repeated. */
export interface Provisioner {
  grant(product: string, user: RosterEvent["user"], event: RosterEvent): Promise<void>;
  update(product: string, user: RosterEvent["user"], event: RosterEvent): Promise<void>;
  revoke(product: string, user: RosterEvent["user"], event: RosterEvent): Promise<void>;
}

export interface ConsumerOptions {
  /** Redis holding the queue: roster-sync's redis.url. */
  redisUrl: string;
  /** roster-sync's redis.prefix. Default `{roster-sync}`. */
  prefix?: string;
  /** The queue sink's name. Default `roster-events`. */
  queueName?: string;
  /** Where this consumer keeps its bookkeeping. Default `provisioning`. */
  stateKey?: string;
  provisioner: Provisioner;
}

/** Applied ids are forgotten after 30 days (far longer than any re-delivery takes). */
const APPLIED_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export type ApplyResult = "applied" | "duplicate" | "stale";

/** Applies one event exactly once as far as the product can tell; see the steps above. */
export async function applyEvent(
  redis: Redis,
  stateKey: string,
  event: RosterEvent,
  provisioner: Provisioner,
  now = Date.now(),
): Promise<ApplyResult> {
  const appliedKey = `${stateKey}:applied`;
  const lastRunKey = `${stateKey}:last-run:${event.mapping}`;
  if ((await redis.zscore(appliedKey, event.id)) !== null) {
    return "duplicate";
  }
  const lastRun = await redis.hget(lastRunKey, event.user.sourcedId);
  if (lastRun !== null && event.runId < lastRun) {
    return "stale";
  }
  const products = Array.isArray(event.product) ? event.product : [event.product];
  for (const product of products) {
    if (event.type === "add") {
      await provisioner.grant(product, event.user, event);
    } else if (event.type === "update") {
      await provisioner.update(product, event.user, event);
    } else {
      await provisioner.revoke(product, event.user, event);
    }
  }
  await redis
    .multi()
    .zadd(appliedKey, now, event.id)
    .zremrangebyscore(appliedKey, "-inf", now - APPLIED_TTL_MS)
    .hset(lastRunKey, event.user.sourcedId, event.runId)
    .exec();
  return "applied";
}

export interface Consumer {
  worker: Worker<RosterEvent, ApplyResult>;
  close(): Promise<void>;
}

/** Starts a BullMQ worker on the events queue. A job that throws is retried by BullMQ with backoff. */
export function startConsumer(options: ConsumerOptions): Consumer {
  const stateKey = options.stateKey ?? "provisioning";
  // Bookkeeping commands may wait for a reconnect; the Worker needs maxRetriesPerRequest: null.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker<RosterEvent, ApplyResult>(
    options.queueName ?? "roster-events",
    (job: Job<RosterEvent, ApplyResult>) => applyEvent(redis, stateKey, job.data, options.provisioner),
    {
      connection: { url: options.redisUrl, maxRetriesPerRequest: null },
      prefix: options.prefix ?? "{roster-sync}",
      // One job at a time keeps the events of a mapping in the order roster-sync emitted them.
      concurrency: 1,
    },
  );
  return {
    worker,
    async close() {
      await worker.close();
      await redis.quit();
    },
  };
}

// Run directly: log what would be provisioned.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const log =
    (verb: string) =>
    async (product: string, user: RosterEvent["user"]): Promise<void> => {
      console.log(`${verb} ${product} for ${user.username ?? user.sourcedId}`);
    };
  const consumer = startConsumer({
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    provisioner: { grant: log("grant"), update: log("update"), revoke: log("revoke") },
  });
  consumer.worker.on("failed", (job, error) => console.error(`event ${job?.id} failed: ${error.message}`));
  const stop = (): void => {
    void consumer.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
