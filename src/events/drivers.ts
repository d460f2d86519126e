// One driver per sink type: how a batch of pending events reaches the sink, and what became of
// each event. The relay (relay.ts) reads the batches, writes the outcomes to the outbox and backs
// off; a driver only talks to its sink.
import type { SinkConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import { getSinkPosition, type PendingDelivery, type StoreDb } from "../store/index.js";
import { toRosterEvent } from "./format.js";
import { appendEvents, fileSinkName } from "./sinks/file.js";
import { isValidJobId, QueueSink } from "./sinks/queue.js";
import { WebhookSink } from "./sinks/webhook.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export type SinkType = SinkConfig["type"];

/** Backoff of a sink after a failed attempt. */
export interface BackoffOptions {
  /** First delay; doubles with every consecutive failure. Default 1 s. */
  baseMs: number;
  /** Upper bound of the exponential delay. Default 5 min. */
  maxMs: number;
  /** Upper bound of an honoured Retry-After. Default 1 h. */
  maxRetryAfterMs: number;
}

/** The backoff of file and queue sinks; a webhook sink takes its own from its config. */
export const DEFAULT_BACKOFF = {
  baseMs: SECOND,
  maxMs: 5 * MINUTE,
  maxRetryAfterMs: HOUR,
} satisfies BackoffOptions;

/** The outbox name of a sink: what delivery rows are keyed by. */
export function sinkName(sink: SinkConfig): string {
  switch (sink.type) {
    case "file":
      return fileSinkName(sink.path);
    case "webhook":
      return `webhook:${new URL(sink.url).origin}${new URL(sink.url).pathname}`;
    case "queue":
      return `queue:${sink.name}`;
  }
}

/** Events settled by the sink, to be written to the outbox. */
export interface Settled {
  delivered: string[];
  /** The file sink's cursor after the batch, saved with the delivered marks. */
  position?: bigint;
  /** Events whose delivery is over for good: refused by the sink, or out of attempts. */
  failed: { id: string; error: string; attempts: number }[];
}

/** What one batch came to, past what the driver already handed to `save`. */
export interface BatchOutcome extends Settled {
  /** The sink stopped on a transient failure: `ids` stay pending with an attempt recorded (none
   * when the failing event was out of attempts and is in `failed`). */
  stopped?: { ids: string[]; error: string; retryAfter?: string };
}

export interface Driver {
  readonly name: string;
  readonly type: SinkType;
  readonly backoff: BackoffOptions;
  /**
   * Delivers the batch in order. A driver that settles events one at a time hands them to `save`
   * as it goes (the relay writes them at once), so that a process killed mid-batch sends again
   * only what was not saved yet.
   */
  deliver(batch: PendingDelivery[], save: (settled: Settled) => Promise<void>): Promise<BatchOutcome>;
  close(): Promise<void>;
}

export function fileDriver(db: StoreDb, sink: Extract<SinkConfig, { type: "file" }>): Driver {
  const name = sinkName(sink);
  return {
    name,
    type: "file",
    backoff: DEFAULT_BACKOFF,
    // Exactly once already: the appended events and the file's length are saved in one transaction,
    // and what lies past the saved length is de-duplicated on the next append (sinks/file.ts).
    async deliver(batch) {
      const ids = batch.map((e) => e.id);
      try {
        const position = await getSinkPosition(db, name);
        const result = await appendEvents(sink.path, batch.map(toRosterEvent), position);
        return { delivered: ids, position: result.position, failed: [] };
      } catch (error) {
        return { delivered: [], failed: [], stopped: { ids, error: (error as Error).message } };
      }
    },
    close: async () => undefined,
  };
}

/**
 * One request at a time, in order: event n+1 is not sent before event n is delivered or failed.
 * Progress is saved every `saveProgressEvery` settled events or `saveProgressMs`, whichever first.
 */
export function webhookDriver(sink: Extract<SinkConfig, { type: "webhook" }>, now: () => number): Driver {
  const webhook = new WebhookSink(sink);
  return {
    name: sinkName(sink),
    type: "webhook",
    backoff: {
      baseMs: sink.retryDelayMs,
      maxMs: sink.maxRetryDelayMs,
      maxRetryAfterMs: sink.maxRetryAfterMs,
    },
    async deliver(batch, save) {
      let unsaved: Settled = { delivered: [], failed: [] };
      let savedAt = now();
      for (const row of batch) {
        const result = await webhook.send(toRosterEvent(row));
        const attempts = row.attempts + 1;
        if (result.kind === "delivered") {
          unsaved.delivered.push(row.id);
        } else if (result.kind === "permanent") {
          unsaved.failed.push({ id: row.id, error: result.error, attempts });
        } else if (attempts >= sink.maxAttempts) {
          // Given up: the event fails and the next one goes (order is kept except around a failed
          // event, which stays visible as `failed`), after the backoff like any transient failure,
          // so that a receiver that is down is never sent the backlog at full speed.
          const error = `${result.error} (attempt ${attempts} of ${sink.maxAttempts}: given up)`;
          unsaved.failed.push({ id: row.id, error, attempts });
          return { ...unsaved, stopped: { ids: [], error: result.error, retryAfter: result.retryAfter } };
        } else {
          return {
            ...unsaved,
            stopped: { ids: [row.id], error: result.error, retryAfter: result.retryAfter },
          };
        }
        const settled = unsaved.delivered.length + unsaved.failed.length;
        if (settled >= sink.saveProgressEvery || now() - savedAt >= sink.saveProgressMs) {
          const done = unsaved;
          unsaved = { delivered: [], failed: [] };
          await save(done);
          savedAt = now();
        }
      }
      return unsaved;
    },
    close: async () => webhook.close(),
  };
}

export function queueDriver(
  sink: Extract<SinkConfig, { type: "queue" }>,
  redis: { url: string; prefix: string },
  logger: Logger,
  addTimeoutMs: number | undefined,
): Driver {
  const name = sinkName(sink);
  let queue: QueueSink | undefined;
  // Redis errors repeat on every reconnect attempt while it is down: log one a minute.
  let lastLogged = -Infinity;
  const onError = (error: Error): void => {
    if (Date.now() - lastLogged >= MINUTE) {
      lastLogged = Date.now();
      logger.warn({ sink: name, err: { message: error.message } }, "queue sink: Redis connection error");
    }
  };
  return {
    name,
    type: "queue",
    backoff: DEFAULT_BACKOFF,
    // A batch is one addBulk (a MULTI): all of it is in Redis or none, and a batch sent again after
    // a crash adds nothing, BullMQ keeping one job per id (sinks/queue.ts).
    async deliver(batch) {
      // Connected on first use, so a relay that never sees a queue event never opens Redis.
      queue ??= new QueueSink({
        name: sink.name,
        url: redis.url,
        prefix: redis.prefix,
        onError,
        addTimeoutMs,
      });
      const valid = batch.filter((e) => isValidJobId(e.id));
      const failed = batch
        .filter((e) => !isValidJobId(e.id))
        .map((e) => ({
          id: e.id,
          error: `event id ${e.id} cannot be a BullMQ job id`,
          attempts: e.attempts + 1,
        }));
      try {
        await queue.add(valid.map(toRosterEvent));
        return { delivered: valid.map((e) => e.id), failed };
      } catch (error) {
        return {
          delivered: [],
          failed,
          stopped: { ids: valid.map((e) => e.id), error: (error as Error).message },
        };
      }
    },
    close: async () => queue?.close(),
  };
}
