// Pre-emptive slowing on `X-RateLimit-*` (Clever: 1200 requests a minute per token, counted in fixed
// windows). When a response says `X-RateLimit-Remaining: 0`, the next request waits until
// `X-RateLimit-Reset` instead of spending a 429. Requests already in flight may still get a 429; the
// shared HTTP client retries those after `X-RateLimit-Reset` (src/providers/retry.ts).
import { setTimeout as delay } from "node:timers/promises";
import { RosterSyncError } from "../../errors.js";
import type { Headers } from "../http.js";
import { serverRequestedDelay } from "../retry.js";

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Milliseconds to hold further requests after a response with these headers: until
 * `X-RateLimit-Reset` when `X-RateLimit-Remaining` is 0, capped at `maxWaitMs`; else undefined. Pure.
 */
export function rateLimitPause(headers: Headers, now: number, maxWaitMs: number): number | undefined {
  const remaining = header(headers, "x-ratelimit-remaining")?.trim();
  if (remaining === undefined || !/^-?\d+$/.test(remaining) || Number(remaining) > 0) {
    return undefined;
  }
  const wait = serverRequestedDelay({ rateLimitReset: header(headers, "x-ratelimit-reset"), now });
  return wait === undefined ? undefined : Math.min(Math.max(0, maxWaitMs), Math.ceil(wait));
}

export interface RateLimitGateOptions {
  providerName: string;
  /** Upper bound of one pause (a wrong clock or header never stalls a sync for long). */
  maxWaitMs: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Holds requests while the provider says the window is spent. One per token (per connector). */
export class RateLimitGate {
  #resumeAt = 0;
  readonly #abort = new AbortController();
  readonly #providerName: string;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(options: RateLimitGateOptions) {
    this.#providerName = options.providerName;
    this.#maxWaitMs = options.maxWaitMs;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
  }

  /** Milliseconds until requests may go again (0 when they may go now). */
  get pendingMs(): number {
    return Math.max(0, this.#resumeAt - this.#now());
  }

  /** Reads a response's rate-limit headers. */
  observe(headers: Headers): void {
    const now = this.#now();
    const pause = rateLimitPause(headers, now, this.#maxWaitMs);
    if (pause !== undefined && pause > 0) {
      this.#resumeAt = Math.max(this.#resumeAt, now + pause);
    }
  }

  /** Resolves when a request may be sent; rejects once the gate is closed or `signal` aborted
   * (one run's connector closed while the gate it shares with other runs stays open). */
  async wait(signal?: AbortSignal): Promise<void> {
    const aborted = signal ? AbortSignal.any([this.#abort.signal, signal]) : this.#abort.signal;
    // A loop because another response may push the resume time further while we sleep; each
    // round waits at most maxWaitMs and only while resumeAt lies ahead, so it ends.
    for (let ms = this.pendingMs; ms > 0; ms = this.pendingMs) {
      if (aborted.aborted) {
        break;
      }
      await this.#sleep(ms, aborted).catch(() => undefined);
    }
    if (aborted.aborted) {
      throw new RosterSyncError("PROVIDER_NETWORK", `provider ${this.#providerName} is closed`);
    }
  }

  close(): void {
    this.#abort.abort();
  }
}
