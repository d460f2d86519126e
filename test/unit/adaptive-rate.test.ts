import { describe, expect, it } from "vitest";
import { AdaptiveRate, isThrottleSignal } from "../../src/providers/adaptive-rate.js";
import { TokenBucket, type BucketClock } from "../../src/providers/token-bucket.js";

const SECOND = 1000;

describe("AdaptiveRate (AIMD)", () => {
  it("starts at the configured rate and stays there without throttle signals", () => {
    const rate = new AdaptiveRate({ maxRate: 50 });
    expect(rate.current(0)).toBe(50);
    expect(rate.current(3600 * SECOND)).toBe(50);
  });

  it("halves on a 429 and recovers additively, never above the configured rate", () => {
    // recovery: maxRate / 10 = 5 requests/s per second, after a 1 s hold.
    const rate = new AdaptiveRate({ maxRate: 50 });
    expect(rate.throttled(10 * SECOND)).toBe(25);
    expect(rate.current(10 * SECOND + 999)).toBe(25);
    expect(rate.current(12 * SECOND)).toBeCloseTo(30);
    expect(rate.current(15 * SECOND)).toBeCloseTo(45);
    expect(rate.current(16 * SECOND)).toBe(50);
    expect(rate.current(100 * SECOND)).toBe(50);
  });

  it.each([
    { name: "one signal", at: [0], expected: 25 },
    { name: "a burst of 429s in one hold window counts once", at: [0, 10, 200, 999], expected: 25 },
    { name: "signals a hold apart halve twice", at: [0, 1000], expected: 12.5 },
    { name: "three events", at: [0, 1000, 2000], expected: 6.25 },
  ])("$name → $expected", ({ at, expected }) => {
    const rate = new AdaptiveRate({ maxRate: 50 });
    for (const t of at) {
      rate.throttled(t);
    }
    expect(rate.current(at.at(-1)!)).toBeCloseTo(expected);
    expect(rate.decreases).toBe(new Set(at.map((t) => Math.floor(t / 1000))).size);
  });

  it("decreases from the recovered rate, not from the last low", () => {
    const rate = new AdaptiveRate({ maxRate: 40, recoveryPerSecond: 10, holdMs: 0 });
    rate.throttled(0); // 20
    expect(rate.current(1 * SECOND)).toBe(30);
    expect(rate.throttled(1 * SECOND)).toBe(15);
  });

  it("never falls below minRate", () => {
    const rate = new AdaptiveRate({ maxRate: 8, minRate: 2, holdMs: 0 });
    for (let t = 0; t < 10; t += 1) {
      rate.throttled(t);
    }
    expect(rate.current(9)).toBe(2);
  });

  it("rejects nonsense", () => {
    expect(() => new AdaptiveRate({ maxRate: 0 })).toThrow(RangeError);
    expect(() => new AdaptiveRate({ maxRate: 5, decrease: 1 })).toThrow(RangeError);
  });
});

describe("isThrottleSignal", () => {
  it.each([
    { status: 429, remaining: undefined, limit: undefined, expected: true },
    { status: 200, remaining: undefined, limit: undefined, expected: false },
    { status: 200, remaining: "0", limit: undefined, expected: true },
    { status: 200, remaining: "1", limit: undefined, expected: false },
    { status: 200, remaining: "12", limit: "1200", expected: true },
    { status: 200, remaining: "13", limit: "1200", expected: false },
    { status: 200, remaining: "500", limit: "1200", expected: false },
    { status: 200, remaining: "soon", limit: "1200", expected: false },
    { status: 503, remaining: undefined, limit: undefined, expected: false },
  ])(
    "status $status, remaining $remaining of $limit → $expected",
    ({ status, remaining, limit, expected }) => {
      expect(isThrottleSignal(status, remaining, limit)).toBe(expected);
    },
  );
});

describe("TokenBucket.setRate", () => {
  function manualClock(): BucketClock & { set(ms: number): void; fire(): void } {
    let now = 0;
    let timer: (() => void) | undefined;
    return {
      now: () => now,
      setTimer(fn) {
        timer = fn;
        return () => {
          timer = undefined;
        };
      },
      set(ms) {
        now = ms;
      },
      fire() {
        const fn = timer;
        timer = undefined;
        fn?.();
      },
    };
  }

  it("paces at the new rate from the moment it is set", async () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ requestsPerSecond: 10, burst: 1, clock });
    await bucket.take(); // the burst
    bucket.setRate(2); // one token per 500 ms from now on
    let done = 0;
    void bucket.take().then(() => (done += 1));
    clock.set(250);
    clock.fire();
    await Promise.resolve();
    expect(done).toBe(0);
    clock.set(500);
    clock.fire();
    await Promise.resolve();
    expect(done).toBe(1);
    expect(bucket.requestsPerSecond).toBe(2);
  });

  it("refuses a rate that is not positive", () => {
    const bucket = new TokenBucket({ requestsPerSecond: 10 });
    expect(() => bucket.setRate(0)).toThrow(RangeError);
  });
});
