// A token bucket shared by every request to one provider (SPEC §4, `rateLimit.requestsPerSecond`).
// Callers wait in order (FIFO). One timer at most, armed only while someone waits: an idle bucket
// holds no timer, so it never keeps the process alive. A waiting caller's timer stays referenced on
// purpose: unref'd, Node could exit in the middle of a fetch whose only pending work is that wait.

const SECOND = 1000;

/** Time and timers, injectable so that tests drive the bucket with a fake clock. */
export interface BucketClock {
  /** Milliseconds, monotonic enough for rate keeping. */
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: BucketClock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface TokenBucketOptions {
  requestsPerSecond: number;
  /** Tokens the bucket holds when full. Default max(1, ceil(requestsPerSecond)): one second's worth. */
  burst?: number;
  clock?: BucketClock;
}

export class TokenBucket {
  #rate: number;
  readonly burst: number;
  readonly #clock: BucketClock;
  #tokens: number;
  #refilledAt: number;
  readonly #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #cancelTimer: (() => void) | undefined;

  constructor(options: TokenBucketOptions) {
    if (!(options.requestsPerSecond > 0)) {
      throw new RangeError("requestsPerSecond must be positive");
    }
    this.#rate = options.requestsPerSecond;
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.requestsPerSecond));
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.burst;
    this.#refilledAt = this.#clock.now();
  }

  /** The current rate (see setRate). */
  get requestsPerSecond(): number {
    return this.#rate;
  }

  /**
   * Changes the rate from now on (the adaptive rate of src/providers/adaptive-rate.ts). Tokens
   * earned so far were earned at the old rate; a waiter's timer is re-armed for the new one.
   */
  setRate(requestsPerSecond: number): void {
    if (!(requestsPerSecond > 0)) {
      throw new RangeError("requestsPerSecond must be positive");
    }
    if (requestsPerSecond === this.#rate) {
      return;
    }
    this.#refill();
    this.#rate = requestsPerSecond;
    if (this.#cancelTimer) {
      this.#cancelTimer();
      this.#cancelTimer = undefined;
      this.#arm();
    }
  }

  /** Callers waiting for a token. */
  get pending(): number {
    return this.#waiters.length;
  }

  /** Resolves when the caller may send one request. */
  take(): Promise<void> {
    if (this.#waiters.length === 0 && this.#tryTake()) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#arm();
    });
  }

  /** Rejects every waiter (provider closed) and drops the timer. */
  clear(reason: Error = new Error("token bucket cleared")): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(reason);
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.#rate) / SECOND);
    this.#refilledAt = now;
  }

  #tryTake(): boolean {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  #arm(): void {
    if (this.#cancelTimer || this.#waiters.length === 0) {
      return;
    }
    this.#refill();
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * SECOND) / this.#rate));
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#cancelTimer = undefined;
      this.#drain();
    }, wait);
  }

  #drain(): void {
    while (this.#waiters.length > 0 && this.#tryTake()) {
      this.#waiters.shift()!.resolve();
    }
    this.#arm();
  }
}
