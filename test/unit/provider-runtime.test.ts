// The provider runtime (src/providers/runtime.ts) hands every connector of one provider the same
// bucket, concurrency cap and (Clever) rate-limit gate, and a changed config a fresh set. No
// request reaches the network: the shared bucket is emptied first, at a rate that earns no token
// while the test runs, so the connectors' requests wait in it.
import { describe, expect, it, vi } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { CsvConnector } from "../../src/providers/csv/connector.js";
import { createProviderRuntime } from "../../src/providers/runtime.js";

function clever(overrides: Record<string, unknown> = {}): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "clever",
    baseUrl: "http://127.0.0.1:9/",
    auth: { method: "bearer", token: "t" },
    rateLimit: { requestsPerSecond: 0.01, concurrency: 1 },
    ...overrides,
  });
  return { ...parsed, name: "district" };
}

/** Settles to "fulfilled" or the rejection's message; undefined while pending. */
function watch(promise: Promise<unknown>): () => string | undefined {
  let state: string | undefined;
  promise.then(
    () => (state = "fulfilled"),
    (error: Error) => (state = error.message),
  );
  return () => state;
}

describe("the provider runtime", () => {
  it("gives two connectors of one provider the same bucket, cap and gate; closing one leaves the other", async () => {
    const runtime = createProviderRuntime();
    const config = clever();
    const share = runtime.share(config)!;
    expect(runtime.share({ ...config })).toBe(share);
    expect(share.gate).toBeDefined();
    await share.bucket.take(); // the one token of the burst: the next comes in 100 s

    const a = runtime.connector(config);
    const b = runtime.connector(config);
    const aState = watch(a.check());
    // Concurrency 1 across both runs: a holds the slot (waiting for a token), b waits for the slot.
    await vi.waitFor(() => expect(share.limit.activeCount).toBe(1));
    const bState = watch(b.check());
    await vi.waitFor(() => expect(share.limit.pendingCount).toBe(1));

    await a.close();
    await vi.waitFor(() => expect(aState()).toMatch(/provider district is closed/));
    // b takes the slot a left and waits in the shared bucket, which a's close did not clear.
    await vi.waitFor(() => expect(share.limit.activeCount).toBe(1));
    expect(share.limit.pendingCount).toBe(0);
    expect(bState()).toBeUndefined();

    // Only the runtime's close ends the shared bucket's waits.
    await runtime.close();
    await vi.waitFor(() => expect(bState()).toMatch(/providers are closed/));
    await b.close();
    expect(() => runtime.connector(config)).toThrow(/providers are closed/);
  });

  it("a Clever window spent holds every run; closing one run ends only its own wait", async () => {
    const runtime = createProviderRuntime();
    const config = clever({ rateLimit: { requestsPerSecond: 100, concurrency: 4 } });
    const gate = runtime.share(config)!.gate!;
    gate.observe({
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 30),
    });
    const a = runtime.connector(config);
    const b = runtime.connector(config);
    const aState = watch(a.check());
    const bState = watch(b.check());
    await a.close();
    await vi.waitFor(() => expect(aState()).toMatch(/provider district is closed/));
    expect(bState()).toBeUndefined();
    expect(gate.pendingMs).toBeGreaterThan(0);
    await runtime.close();
    await vi.waitFor(() => expect(bState()).toMatch(/provider district is closed/));
    await b.close();
  });

  it("a changed provider config gets a fresh bucket, cap and gate; an unchanged one keeps its own", async () => {
    const runtime = createProviderRuntime();
    const before = runtime.share(clever())!;
    const changed = clever({ rateLimit: { requestsPerSecond: 0.02, concurrency: 1 } });
    const after = runtime.share(changed)!;
    expect(after).not.toBe(before);
    expect(after.bucket).not.toBe(before.bucket);
    expect(after.limit).not.toBe(before.limit);
    expect(after.rate).not.toBe(before.rate);
    expect(after.gate).not.toBe(before.gate);
    expect(after.auth).not.toBe(before.auth);
    expect(runtime.share(clever({ rateLimit: { requestsPerSecond: 0.02, concurrency: 1 } }))).toBe(after);
    // A reload: an unchanged provider keeps its share, a removed one is forgotten.
    runtime.update({ district: changed });
    expect(runtime.share(changed)).toBe(after);
    runtime.update({});
    const again = runtime.share(changed)!;
    expect(again).not.toBe(after);
    runtime.update({ district: changed });
    expect(runtime.share(changed)).toBe(again);

    // A connector made now uses the current share.
    await again.bucket.take();
    const c = runtime.connector(changed);
    const state = watch(c.check());
    await vi.waitFor(() => expect(again.limit.activeCount).toBe(1));
    expect(before.limit.activeCount).toBe(0);
    await c.close();
    await vi.waitFor(() => expect(state()).toMatch(/closed/));
    await runtime.close();
  });

  it("a CSV provider has no HTTP to share: each run gets a connector told its mappings", async () => {
    const runtime = createProviderRuntime();
    const csv = { ...providerSchema.parse({ type: "csv", path: "/nonexistent.zip" }), name: "files" };
    expect(runtime.share(csv)).toBeUndefined();
    const connector = runtime.connector(csv, { mappings: [] });
    expect(connector).toBeInstanceOf(CsvConnector);
    await connector.close();
    await runtime.close();
  });
});
