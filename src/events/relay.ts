// The outbox relay (SPEC §5.5): delivers pending events to every configured sink, at least once, in
// outbox order (so in order per mapping), batch by batch, marking events delivered only after the
// sink confirmed them. Each sink is relayed on its own: a sink that is down records the attempt,
// backs off (exponential with jitter, or what its Retry-After asked) and delays only itself.
// An event whose delivery is over for good (refused, or a webhook event out of attempts) is marked
// `failed`, logged as an error, and the next event goes (after the backoff when it failed for want
// of an answer): order per mapping holds except around a failed event, which stays visible
// (`events`, /metrics) until it is redelivered.
//
// Who calls it: `sync` (file and webhook sinks, once after its runs) and the worker (every sink,
// periodically and after commits, holding a per-sink lock so that two workers never relay the same
// sink at once; `relay.sinks` lists the names to lock and `relayOnce({ sinks })` relays a subset).
import type { SinkConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import { serverRequestedDelay } from "../providers/retry.js";
import { markDelivered, markFailed, pendingDeliveries, recordAttempt, type StoreDb } from "../store/index.js";
import {
  DEFAULT_BACKOFF,
  fileDriver,
  queueDriver,
  sinkName,
  webhookDriver,
  type BackoffOptions,
  type Driver,
  type Settled,
  type SinkType,
} from "./drivers.js";

export { DEFAULT_BACKOFF, sinkName, type BackoffOptions, type SinkType } from "./drivers.js";

/** Events read from the outbox per batch. A webhook batch is sent one request at a time. */
const BATCH_SIZE = { file: 1000, queue: 500, webhook: 100 } satisfies Record<SinkType, number>;
/** Upper bound of batches per sink per relayOnce, so that a sink that never empties cannot loop forever. */
const MAX_BATCHES = 1000;

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

export interface RelayResult {
  sink: string;
  type: SinkType;
  /** Events confirmed by the sink and marked delivered in this call. */
  delivered: number;
  /** Events marked `failed` in this call (refused by the sink, or out of attempts), skipped from
   * now on. */
  failed: number;
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
  /** Overrides every sink's backoff (tests). Default: DEFAULT_BACKOFF, a webhook's from its config. */
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
        driver = webhookDriver(sink, now);
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
    const result: RelayResult = { sink: driver.name, type: driver.type, delivered: 0, failed: 0 };
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
        const save = (settled: Settled): Promise<void> => record(driver, settled, result);
        const outcome = await driver.deliver(batch, save);
        await save(outcome);
        if (outcome.stopped) {
          if (outcome.stopped.ids.length > 0) {
            await recordAttempt(db, driver.name, outcome.stopped.ids, outcome.stopped.error);
          }
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

  /** Writes what the sink settled to the outbox, and logs each failed event. */
  async function record(driver: Driver, settled: Settled, result: RelayResult): Promise<void> {
    if (settled.delivered.length > 0) {
      await markDelivered(db, driver.name, settled.delivered, { position: settled.position });
      result.delivered += settled.delivered.length;
    }
    for (const { id, error, attempts } of settled.failed) {
      await markFailed(db, driver.name, id, error);
      result.failed += 1;
      logger.error(
        { sink: driver.name, eventId: id, attempts, err: { message: error } },
        "event delivery failed for good: marked failed, later events go on",
      );
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
    const backoff = { ...state.driver.backoff, ...options.backoff };
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
    } else if (result.delivered > 0 || result.failed > 0) {
      logger.info(
        { sink: result.sink, delivered: result.delivered, failed: result.failed },
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
