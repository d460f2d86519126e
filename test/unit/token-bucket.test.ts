import { describe, expect, it } from "vitest";
import { TokenBucket, type BucketClock } from "../../src/providers/token-bucket.js";

/** A clock whose time moves only when the test says so; timers fire as it passes them. */
function fakeClock(): BucketClock & { advance(ms: number): Promise<void>; timers(): number } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimer(fn, ms) {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) {
          break;
        }
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
        await Promise.resolve();
      }
      now = until;
      // Let resolved take() promises run their continuations.
      await new Promise((resolve) => setImmediate(resolve));
    },
    timers: () => timers.length,
  };
}

function track(bucket: TokenBucket, n: number): { done: () => number } {
  let done = 0;
  for (let i = 0; i < n; i += 1) {
    void bucket.take().then(() => {
      done += 1;
    });
  }
  return { done: () => done };
}

describe("TokenBucket", () => {
  it("lets a burst of ceil(rps) through at once, then rps per second", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ requestsPerSecond: 5, clock });
    expect(bucket.burst).toBe(5);
    const calls = track(bucket, 12);
    await clock.advance(0);
    expect(calls.done()).toBe(5);
    await clock.advance(199);
    expect(calls.done()).toBe(5);
    await clock.advance(1);
    expect(calls.done()).toBe(6);
    await clock.advance(800);
    expect(calls.done()).toBe(10);
    await clock.advance(400);
    expect(calls.done()).toBe(12);
    expect(bucket.pending).toBe(0);
  });

  it("handles fractional rates with a burst of one", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ requestsPerSecond: 0.5, clock });
    expect(bucket.burst).toBe(1);
    const calls = track(bucket, 3);
    await clock.advance(0);
    expect(calls.done()).toBe(1);
    await clock.advance(1999);
    expect(calls.done()).toBe(1);
    await clock.advance(1);
    expect(calls.done()).toBe(2);
    await clock.advance(2000);
    expect(calls.done()).toBe(3);
  });

  it("refills while idle, but never above the burst", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ requestsPerSecond: 2, burst: 3, clock });
    await clock.advance(0);
    const first = track(bucket, 3);
    await clock.advance(0);
    expect(first.done()).toBe(3);
    await clock.advance(60_000);
    const second = track(bucket, 5);
    await clock.advance(0);
    expect(second.done()).toBe(3);
  });

  it("keeps no timer when idle, one while callers wait, and serves them in order", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ requestsPerSecond: 1, clock });
    expect(clock.timers()).toBe(0);
    const order: number[] = [];
    const all = [1, 2, 3].map((i) => bucket.take().then(() => order.push(i)));
    await clock.advance(0);
    expect(clock.timers()).toBe(1);
    await clock.advance(2000);
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3]);
    expect(clock.timers()).toBe(0);
  });

  it("rejects waiters when cleared", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ requestsPerSecond: 1, clock });
    await bucket.take();
    const waiting = bucket.take();
    bucket.clear(new Error("closed"));
    await expect(waiting).rejects.toThrow("closed");
    expect(clock.timers()).toBe(0);
  });

  it("rejects a rate that is not positive", () => {
    expect(() => new TokenBucket({ requestsPerSecond: 0 })).toThrow(RangeError);
  });
});
