// The outbox relay (SPEC §5.5): delivers pending events to every configured sink, at least once, in
// outbox order (so in order per mapping), batch by batch, marking events delivered only after the
// sink confirmed them. Each sink is relayed on its own: a sink that is down records the attempt,
// backs off (exponential with jitter, or what its Retry-After asked) and delays only itself.
//
// Who calls it: `sync` (file and webhook sinks, once after its runs) and the worker (every sink,
// periodically and after commits, holding a per-sink lock so that two workers never relay the same
// sink at once; `relay.sinks` lists the names to lock and `relayOnce({ sinks })` relays a subset).
import type { SinkConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import { serverRequestedDelay } from "../providers/retry.js";
import {
  getSinkPosition,
  markDelivered,
  markFailed,
  pendingDeliveries,
  recordAttempt,
  type PendingDelivery,
  type StoreDb,
} from "../store/index.js";
import { toRosterEvent } from "./format.js";
import { appendEvents, fileSinkName } from "./sinks/file.js";
import { isValidJobId, QueueSink } from "./sinks/queue.js";
import { WebhookSink } from "./sinks/webhook.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export type SinkType = SinkConfig["type"];

/** Events read from the outbox per batch. A webhook batch is sent one request at a time. */
const BATCH_SIZE = { file: 1000, queue: 500, webhook: 100 } satisfies Record<SinkType, number>;
/** Upper bound of batches per sink per relayOnce, so that a sink that never empties cannot loop forever. */
const MAX_BATCHES = 1000;

/** Backoff of a sink after a failed attempt. */
export interface BackoffOptions {
  /** First delay; doubles with every consecutive failure. Default 1 s. */
  baseMs: number;
  /** Upper bound of the exponential delay. Default 5 min. */
  maxMs: number;
  /** Upper bound of an honoured Retry-After. Default 1 h. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF = {
  baseMs: SECOND,
  maxMs: 5 * MINUTE,
  maxRetryAfterMs: HOUR,
} satisfies BackoffOptions;

/**
 * Milliseconds a sink waits after its `failures`-th consecutive failure. "Equal jitter": half of
 * `min(maxMs, baseMs * 2^(failures-1))` fixed, half random, so a down sink is never retried at
 * once and several workers do not retry in step. A Retry-After (seconds or HTTP date) is a floor:
 * the sink is not tried before it, up to maxRetryAfterMs. Pure.
 */
export function sinkBackoffDelay(input: {
  failures: number;
  retryAfter?: string | undefined;
  now: number;
  random: number;
  backoff?: BackoffOptions;
}): number {
  const { baseMs, maxMs, maxRetryAfterMs } = input.backoff ?? DEFAULT_BACKOFF;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, input.failures - 1));
  const random = Math.min(Math.max(input.random, 0), 1);
  const backoff = Math.floor(ceiling / 2 + (random * ceiling) / 2);
  const requested = serverRequestedDelay({ retryAfter: input.retryAfter, now: input.now });
  if (requested === undefined) {
    return backoff;
  }
  return Math.max(backoff, Math.min(maxRetryAfterMs, Math.ceil(requested)));
}

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

export interface RelayResult {
  sink: string;
  type: SinkType;
  /** Events confirmed by the sink and marked delivered in this call. */
  delivered: number;
  /** Events the sink refused for good (a webhook's 4xx), now `failed` and skipped from now on. */
  parked: number;
  /** Why the sink stopped: its events stay pending, tried again at `retryAt`. */
  error?: string;
  /** Set when the sink was not tried at all because it is backing off after a failure. */
  skipped?: "backoff";
  /** When the sink will be tried again (after `error`, or while `skipped`). */
  retryAt?: Date;
  /** True when MAX_BATCHES were delivered and more events may be pending: call again. */
  more?: boolean;
}

export interface RelayOptions {
  db: StoreDb;
  sinks: readonly SinkConfig[];
  logger: Logger;
  /** redis.url and redis.prefix: needed only when a queue sink is relayed. */
  redis?: { url: string; prefix: string };
  /** How long a queue sink waits for Redis to take a batch. Default 30 s (DEFAULT_ADD_TIMEOUT_MS). */
  queueTimeoutMs?: number;
  /** Relay only sinks of these types (`sync` delivers file and webhook sinks itself). Default all. */
  only?: readonly SinkType[];
  backoff?: Partial<BackoffOptions>;
  /** Clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

export interface Relay {
  /** The outbox names of the relayed sinks (after `only`), e.g. to take a lock per sink. */
  readonly sinks: readonly string[];
  /**
   * One pass over every sink (or over `sinks`, by name; unknown names are ignored), all sinks at
   * once and independently. Never throws for a sink's failure: it is in that sink's result.
   * A sink is relayed by one pass at a time in this process: a call while a pass runs waits for it
   * and then makes one more (which sees events committed meanwhile); calls made before that next
   * pass starts share it, and so share its result.
   */
  relayOnce(options?: { sinks?: readonly string[] }): Promise<RelayResult[]>;
  /** Waits for passes in flight, then closes the sinks' connections. */
  close(): Promise<void>;
}

/** What one batch came to: the relay writes it to the outbox. */
interface BatchOutcome {
  delivered: string[];
  /** The file sink's cursor after the batch, saved with the delivered marks. */
  position?: bigint;
  parked: { id: string; error: string }[];
  /** The sink stopped on a transient failure: `ids` stay pending with an attempt recorded. */
  stopped?: { ids: string[]; error: string; retryAfter?: string };
}

interface Driver {
  readonly name: string;
  readonly type: SinkType;
  deliver(batch: PendingDelivery[]): Promise<BatchOutcome>;
  close(): Promise<void>;
}

function fileDriver(db: StoreDb, sink: Extract<SinkConfig, { type: "file" }>): Driver {
  const name = sinkName(sink);
  return {
    name,
    type: "file",
    async deliver(batch) {
      const ids = batch.map((e) => e.id);
      try {
        const position = await getSinkPosition(db, name);
        const result = await appendEvents(sink.path, batch.map(toRosterEvent), position);
        return { delivered: ids, position: result.position, parked: [] };
      } catch (error) {
        return { delivered: [], parked: [], stopped: { ids, error: (error as Error).message } };
      }
    },
    close: async () => undefined,
  };
}

function webhookDriver(sink: Extract<SinkConfig, { type: "webhook" }>): Driver {
  const webhook = new WebhookSink(sink);
  return {
    name: sinkName(sink),
    type: "webhook",
    async deliver(batch) {
      const outcome: BatchOutcome = { delivered: [], parked: [] };
      // One at a time, in order: event n+1 is not sent before event n is delivered or parked.
      for (const row of batch) {
        const result = await webhook.send(toRosterEvent(row));
        if (result.kind === "delivered") {
          outcome.delivered.push(row.id);
        } else if (result.kind === "permanent") {
          outcome.parked.push({ id: row.id, error: result.error });
        } else {
          outcome.stopped = { ids: [row.id], error: result.error, retryAfter: result.retryAfter };
          break;
        }
      }
      return outcome;
    },
    close: async () => webhook.close(),
  };
}

function queueDriver(
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
      const parked = batch
        .filter((e) => !isValidJobId(e.id))
        .map((e) => ({ id: e.id, error: `event id ${e.id} cannot be a BullMQ job id` }));
      try {
        await queue.add(valid.map(toRosterEvent));
        return { delivered: valid.map((e) => e.id), parked };
      } catch (error) {
        return {
          delivered: [],
          parked,
          stopped: { ids: valid.map((e) => e.id), error: (error as Error).message },
        };
      }
    },
    close: async () => queue?.close(),
  };
}

interface SinkState {
  driver: Driver;
  /** Consecutive failed passes. */
  failures: number;
  /** Epoch ms before which the sink is not tried. */
  notBefore: number;
  /** The last queued pass: the next one chains after it. */
  tail: Promise<unknown>;
  /** A pass queued but not started yet: later callers share it (it will see their events too). */
  waiting?: Promise<RelayResult>;
}

/** A relay over the configured sinks. Nothing connects until a pass needs it. */
export function createRelay(options: RelayOptions): Relay {
  const { db, logger } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
  const states = new Map<string, SinkState>();
  for (const sink of options.sinks) {
    if (options.only && !options.only.includes(sink.type)) {
      continue;
    }
    const name = sinkName(sink);
    if (states.has(name)) {
      continue; // the same sink configured twice: one set of delivery rows, one relay
    }
    let driver: Driver;
    switch (sink.type) {
      case "file":
        driver = fileDriver(db, sink);
        break;
      case "webhook":
        driver = webhookDriver(sink);
        break;
      case "queue":
        if (!options.redis) {
          throw new Error(`the queue sink ${name} needs redis settings (createRelay({ redis }))`);
        }
        driver = queueDriver(sink, options.redis, logger, options.queueTimeoutMs);
        break;
    }
    states.set(name, { driver, failures: 0, notBefore: -Infinity, tail: Promise.resolve() });
  }
  let closed = false;

  async function pass(state: SinkState): Promise<RelayResult> {
    const { driver } = state;
    const result: RelayResult = { sink: driver.name, type: driver.type, delivered: 0, parked: 0 };
    if (now() < state.notBefore) {
      return { ...result, skipped: "backoff", retryAt: new Date(state.notBefore) };
    }
    try {
      for (let i = 0; i < MAX_BATCHES; i += 1) {
        const batch = await pendingDeliveries(db, driver.name, BATCH_SIZE[driver.type]);
        if (batch.length === 0) {
          state.failures = 0;
          return report(result);
        }
        const outcome = await driver.deliver(batch);
        if (outcome.delivered.length > 0) {
          await markDelivered(db, driver.name, outcome.delivered, { position: outcome.position });
          result.delivered += outcome.delivered.length;
        }
        for (const { id, error } of outcome.parked) {
          await markFailed(db, driver.name, id, error);
          logger.error(
            { sink: driver.name, eventId: id, err: { message: error } },
            "event refused by the sink: parked",
          );
        }
        result.parked += outcome.parked.length;
        if (outcome.stopped) {
          await recordAttempt(db, driver.name, outcome.stopped.ids, outcome.stopped.error);
          return report(fail(state, result, outcome.stopped.error, outcome.stopped.retryAfter));
        }
      }
      state.failures = 0;
      return report({ ...result, more: true });
    } catch (error) {
      // The database (or a bug) failed us mid-pass: whatever was not marked goes again later.
      return report(fail(state, result, (error as Error).message, undefined));
    }
  }

  function fail(
    state: SinkState,
    result: RelayResult,
    error: string,
    retryAfter: string | undefined,
  ): RelayResult {
    state.failures += 1;
    const t = now();
    state.notBefore =
      t + sinkBackoffDelay({ failures: state.failures, retryAfter, now: t, random: random(), backoff });
    return { ...result, error, retryAt: new Date(state.notBefore) };
  }

  function report(result: RelayResult): RelayResult {
    if (result.error) {
      logger.warn(
        {
          sink: result.sink,
          delivered: result.delivered,
          retryAt: result.retryAt,
          err: { message: result.error },
        },
        "event delivery failed; events stay pending",
      );
    } else if (result.delivered > 0 || result.parked > 0) {
      logger.info(
        { sink: result.sink, delivered: result.delivered, parked: result.parked },
        "events delivered",
      );
    }
    return result;
  }

  function schedule(state: SinkState): Promise<RelayResult> {
    if (state.waiting) {
      return state.waiting;
    }
    const next = state.tail.then(() => {
      state.waiting = undefined;
      return pass(state);
    });
    state.waiting = next;
    state.tail = next.catch(() => undefined);
    return next;
  }

  return {
    sinks: [...states.keys()],
    async relayOnce(opts = {}) {
      if (closed) {
        throw new Error("the relay is closed");
      }
      const selected = [...states.entries()]
        .filter(([name]) => !opts.sinks || opts.sinks.includes(name))
        .map(([, state]) => state);
      return Promise.all(selected.map(schedule));
    },
    async close() {
      if (closed) {
        return;
      }
      closed = true;
      await Promise.all([...states.values()].map((s) => s.tail));
      await Promise.all([...states.values()].map((s) => s.driver.close()));
    },
  };
}
