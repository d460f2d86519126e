// The `queue` sink: each event becomes one job on the BullMQ queue `name` (default `roster-events`),
// job id = event id, job name = event type, job data = the event (SPEC §5). A re-delivery of an
// event whose job BullMQ still knows (waiting, active, completed or failed) adds nothing: BullMQ
// keeps one job per id. That is why completed jobs are kept for a week (JOB_OPTIONS): the relay
// re-delivers only events it could not mark delivered (a crash, a lost database connection), which
// happens within seconds, so a week of ids is ample. Consumers still de-duplicate on the id, since
// delivery is at least once (see examples/provisioning-consumer.ts).
import { Queue, type DefaultJobOptions } from "bullmq";
import { Redis } from "ioredis";

import { safeUrl, SinkError } from "../../errors.js";
import type { RosterEvent } from "../../sync/events.js";

const SECOND = 1000;
const DAY_SECONDS = 24 * 60 * 60;

/** Defaults of every job the sink adds. */
export const JOB_OPTIONS = {
  // Keeps completed job ids (hence BullMQ's de-duplication) for 7 days, at most 1,000,000 jobs.
  removeOnComplete: { age: 7 * DAY_SECONDS, count: 1_000_000 },
  // Failed jobs stay 30 days for a person to inspect and retry.
  removeOnFail: { age: 30 * DAY_SECONDS },
  // A consumer's transient failure is retried by BullMQ: 8 attempts, 5 s doubling (about 10 min).
  // A consumer throws bullmq's UnrecoverableError for an event it can never apply.
  attempts: 8,
  backoff: { type: "exponential", delay: 5 * SECOND },
} satisfies DefaultJobOptions;

/** How long one addBulk may wait for Redis (e.g. while it is down) before the batch counts as failed. */
export const DEFAULT_ADD_TIMEOUT_MS = 30 * SECOND;

export interface QueueSinkOptions {
  /** The BullMQ queue name (the sink's `name`). */
  name: string;
  /** redis.url */
  url: string;
  /** redis.prefix, e.g. `{roster-sync}`. */
  prefix: string;
  /** Default DEFAULT_ADD_TIMEOUT_MS. */
  addTimeoutMs?: number;
  /** Told about Redis connection errors (ioredis reconnects by itself). */
  onError?: (error: Error) => void;
}

/**
 * BullMQ rejects custom job ids made of digits only or containing ':'. Event ids are `evt_<hex>`;
 * an id that breaks the rule cannot be a job id, and such an event is refused (parked) rather than
 * renamed, since a renamed id would no longer be the one consumers de-duplicate on.
 */
export function isValidJobId(id: string): boolean {
  return id.length > 0 && !id.includes(":") && !/^\d+$/.test(id);
}

/** The jobs for a batch of events, in order. */
export function toJobs(
  events: readonly RosterEvent[],
): { name: string; data: RosterEvent; opts: { jobId: string } }[] {
  return events.map((event) => ({ name: event.type, data: event, opts: { jobId: event.id } }));
}

export class QueueSink {
  readonly queue: Queue<RosterEvent, unknown, string>;
  readonly #redis: Redis;
  readonly #url: string;
  readonly #addTimeoutMs: number;

  constructor(options: QueueSinkOptions) {
    this.#url = safeUrl(options.url);
    this.#addTimeoutMs = options.addTimeoutMs ?? DEFAULT_ADD_TIMEOUT_MS;
    const onError = options.onError ?? (() => undefined);
    // Fail fast while Redis is unreachable (no offline queue, one retry per command): the relay backs
    // off and tries again, instead of piling commands up in memory.
    this.#redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
    });
    this.#redis.on("error", onError);
    this.queue = new Queue<RosterEvent, unknown, string>(options.name, {
      connection: this.#redis,
      prefix: options.prefix,
      defaultJobOptions: JOB_OPTIONS,
    });
    this.queue.on("error", onError);
  }

  /**
   * Adds the events as jobs, in order, in one round trip (BullMQ's addBulk runs in a MULTI).
   * Throws a SinkError when Redis does not confirm within the timeout: the events stay pending and
   * go again later, de-duplicated by their job ids.
   */
  async add(events: readonly RosterEvent[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Redis within ${this.#addTimeoutMs} ms`)),
        this.#addTimeoutMs,
      );
    });
    try {
      await Promise.race([this.queue.addBulk(toJobs(events)), timeout]);
    } catch (error) {
      throw new SinkError(
        `queue ${this.queue.name} on ${this.#url}: ${(error as Error).message}`,
        `queue:${this.queue.name}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    try {
      await this.queue.close();
    } finally {
      this.#redis.disconnect();
    }
  }
}
