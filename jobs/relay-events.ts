// The worker's outbox relay loop: every `worker.relayIntervalMs`, and right after each commit, one
// pass over the configured sinks (src/events/relay.ts does the delivering). Each sink is relayed
// under its own lock (src/store/locks.ts), so two workers never relay one sink at once: together
// with the outbox order that keeps events in order per mapping. A sink whose lock another worker
// holds is left to that worker this pass; a sink that is down backs off inside the relay and does
// not hold the others up.
import type { SinkConfig } from "../src/config/schema.js";
import { createRelay, type Relay, type RelayResult } from "../src/events/relay.js";
import type { Logger } from "../src/log.js";
import type { StoreDb } from "../src/store/db.js";
import type { WorkerObserver } from "../src/app/observer.js";
import { sinkLock, type Locks } from "../src/store/locks.js";

export interface RelayLoopOptions {
  db: StoreDb;
  locks: Locks;
  logger: Logger;
  redis: { url: string; prefix: string };
  sinks: readonly SinkConfig[];
  intervalMs: number;
  observer?: Pick<WorkerObserver, "relayed">;
}

export interface RelayLoop {
  /** Asks for a pass now (after a commit); coalesces with a pass in flight. */
  kick(): void;
  /** Swaps the sinks after a config reload; the pass in flight finishes with the old ones. */
  setSinks(sinks: readonly SinkConfig[]): Promise<void>;
  /** When the last pass ended (epoch ms), for /healthz. */
  readonly lastPassAt: number | undefined;
  /** Stops the timer, waits for the pass in flight, closes the sinks. */
  stop(): Promise<void>;
}

/** Upper bound of back-to-back passes while a sink reports `more`, before the timer takes over. */
const MAX_IMMEDIATE_PASSES = 100;

export function startRelayLoop(options: RelayLoopOptions): RelayLoop {
  const { locks, logger } = options;
  let sinks = options.sinks;
  let relay: Relay = newRelay(sinks);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let immediate = 0;
  let stopped = false;
  let lastPassAt: number | undefined;
  let lastLockError = -Infinity;

  function newRelay(list: readonly SinkConfig[]): Relay {
    return createRelay({ db: options.db, sinks: list, logger, redis: options.redis });
  }

  async function relaySink(name: string): Promise<boolean> {
    let lease;
    try {
      lease = await locks.tryAcquire(sinkLock(name));
    } catch (error) {
      if (Date.now() - lastLockError > 60_000) {
        lastLockError = Date.now();
        logger.warn(
          { sink: name, err: { message: (error as Error).message } },
          "relay: cannot take the sink lock",
        );
      }
      return false;
    }
    if (!lease) {
      return false; // another worker (or a pass of ours) is relaying it
    }
    try {
      const results: RelayResult[] = await relay.relayOnce({ sinks: [name] });
      for (const result of results) {
        options.observer?.relayed(result);
      }
      return results.some((r) => r.more === true);
    } finally {
      await lease.release();
    }
  }

  async function pass(): Promise<void> {
    const more = await Promise.all(relay.sinks.map((name) => relaySink(name)));
    lastPassAt = Date.now();
    if (more.some(Boolean) && immediate < MAX_IMMEDIATE_PASSES) {
      immediate += 1;
      again = true;
    } else {
      immediate = 0;
    }
  }

  function run(): void {
    if (stopped) {
      return;
    }
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = pass()
      .catch((error: unknown) => {
        logger.error({ err: { message: (error as Error).message } }, "relay pass failed");
      })
      .finally(() => {
        running = undefined;
        if (stopped) {
          return;
        }
        if (again) {
          again = false;
          setImmediate(run);
        } else {
          timer = setTimeout(run, options.intervalMs);
        }
      });
  }

  run();
  return {
    kick: run,
    async setSinks(next) {
      if (JSON.stringify(next) === JSON.stringify(sinks)) {
        return;
      }
      const old = relay;
      sinks = next;
      relay = newRelay(next);
      await running;
      await old.close().catch(() => undefined);
      logger.info({ sinks: relay.sinks }, "relay: sinks reloaded");
    },
    get lastPassAt() {
      return lastPassAt;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await relay.close().catch(() => undefined);
    },
  };
}
