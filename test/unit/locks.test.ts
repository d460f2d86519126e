// Waiting for a lock (src/store/locks.ts), on the in-process locks of the embedded database.
import { describe, expect, it } from "vitest";
import { DatabaseError } from "../../src/errors.js";
import { acquireWaiting, localLocks } from "../../src/store/locks.js";

describe("acquireWaiting", () => {
  it("takes a free lock at once, without reporting a wait", async () => {
    const locks = localLocks();
    const waits: number[] = [];
    const lease = await acquireWaiting(locks, "mapping:a", { onWait: (ms) => waits.push(ms) });
    expect(lease.name).toBe("mapping:a");
    expect(waits).toEqual([]);
    await lease.release();
  });

  it("waits for a held lock, reporting the wait, and takes it once released", async () => {
    const locks = localLocks();
    const holder = (await locks.tryAcquire("mapping:b"))!;
    const waits: number[] = [];
    const waiting = acquireWaiting(locks, "mapping:b", {
      pollMs: 5,
      onWait: (ms) => {
        waits.push(ms);
        void holder.release();
      },
    });
    const lease = await waiting;
    expect(lease.name).toBe("mapping:b");
    expect(waits).toHaveLength(1);
    expect(locks.held()).toEqual(["mapping:b"]);
  });

  it("gives up after maxWaitMs with an error naming the lock", async () => {
    const locks = localLocks();
    await locks.tryAcquire("sink:file:x");
    const error = await acquireWaiting(locks, "sink:file:x", { pollMs: 5, maxWaitMs: 40 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as Error).message).toMatch(/gave up waiting for the lock on sink:file:x after \d+ s/);
  });
});
