// The request rate of one provider, adapted to what the provider says (SPEC §4, issue 4 "Speed"):
// AIMD, as TCP does with its window. It starts at the configured `requestsPerSecond`, which is
// also its ceiling; a throttle signal (a 429, or `X-RateLimit-Remaining` at the bottom of the
// window) multiplies it by `decrease`, and every second without one adds `recoveryPerSecond` back,
// up to the ceiling again. The token bucket (token-bucket.ts) is set to `current()` before each
// request, so every request of the provider shares the one rate.
//
// Pure: time is a parameter (milliseconds, any monotonic origin), so tests drive it with numbers.

const SECOND = 1000;

export interface AdaptiveRateOptions {
  /** The configured `requestsPerSecond`: where the rate starts, and the most it ever returns to. */
  maxRate: number;
  /** The least it falls to. Default maxRate / 64 (six halvings), at most 1 per second. */
  minRate?: number;
  /** Factor applied on a throttle signal. Default 0.5. */
  decrease?: number;
  /** Requests per second regained per second without a throttle signal. Default maxRate / 10:
   * ten quiet seconds bring a halved rate back to the ceiling. */
  recoveryPerSecond?: number;
  /**
   * Signals within this long after a decrease count as the same one (requests in flight when the
   * server started refusing all come back 429 together; one halving per congestion event, not one
   * per request). Recovery starts when it ends. Default 1 s, the least Retry-After a server sends.
   */
  holdMs?: number;
}

export const ADAPTIVE_RATE_DEFAULTS = {
  decrease: 0.5,
  holdMs: SECOND,
} satisfies Pick<AdaptiveRateOptions, "decrease" | "holdMs">;

export class AdaptiveRate {
  readonly maxRate: number;
  readonly minRate: number;
  readonly #decrease: number;
  readonly #recovery: number;
  readonly #holdMs: number;
  /** The rate set by the last decrease (or the start), and when. Recovery is computed from them. */
  #base: number;
  #changedAt: number | undefined;
  /** Decreases so far (for logs and tests). */
  decreases = 0;

  constructor(options: AdaptiveRateOptions) {
    if (!(options.maxRate > 0)) {
      throw new RangeError("maxRate must be positive");
    }
    const decrease = options.decrease ?? ADAPTIVE_RATE_DEFAULTS.decrease;
    if (!(decrease > 0 && decrease < 1)) {
      throw new RangeError("decrease must be between 0 and 1");
    }
    this.maxRate = options.maxRate;
    this.minRate = Math.min(this.maxRate, options.minRate ?? Math.min(1, this.maxRate / 64));
    this.#decrease = decrease;
    this.#recovery = options.recoveryPerSecond ?? this.maxRate / 10;
    this.#holdMs = options.holdMs ?? ADAPTIVE_RATE_DEFAULTS.holdMs;
    this.#base = this.maxRate;
  }

  /** Requests per second allowed at `now`: the last decreased rate plus what quiet time has won back. */
  current(now: number): number {
    if (this.#changedAt === undefined) {
      return this.#base;
    }
    const quiet = now - this.#changedAt - this.#holdMs;
    if (quiet <= 0) {
      return this.#base;
    }
    return Math.min(this.maxRate, this.#base + (this.#recovery * quiet) / SECOND);
  }

  /**
   * The provider refused a request (429) or said its window is spent. Returns the new rate. Signals
   * during the hold after a decrease change nothing.
   */
  throttled(now: number): number {
    if (this.#changedAt !== undefined && now - this.#changedAt < this.#holdMs) {
      return this.#base;
    }
    this.#base = Math.max(this.minRate, this.current(now) * this.#decrease);
    this.#changedAt = now;
    this.decreases += 1;
    return this.#base;
  }
}

/**
 * Whether a response tells us to slow down: a 429, or `X-RateLimit-Remaining` at 0 (or, when
 * `X-RateLimit-Limit` is sent, within the last 1 % of it: the next requests would empty it). Pure.
 */
export function isThrottleSignal(
  status: number,
  remaining: string | undefined,
  limit: string | undefined,
): boolean {
  if (status === 429) {
    return true;
  }
  const left = remaining?.trim();
  if (left === undefined || !/^-?\d+$/.test(left)) {
    return false;
  }
  const max = limit?.trim();
  const floor = max !== undefined && /^\d+$/.test(max) ? Math.floor(Number(max) / 100) : 0;
  return Number(left) <= floor;
}
