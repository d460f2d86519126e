// Issue 9 item 1: a partial block inherits field by field from the next level up (a mapping's or
// provider's block → `defaults` → built-in), never from a default one level further away.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import {
  providerSchema,
  RATE_LIMIT_DEFAULTS,
  RETRY_DEFAULTS,
  SAFETY_DEFAULTS,
  type Config,
} from "../../src/config/schema.js";
import { CONFIG_FILE, minimalConfig } from "../helpers/config.js";

/** A config with `provider` lines under the provider, `mapping` lines under the mapping, `top` at the end. */
function config(parts: Parameters<typeof minimalConfig>[0] = {}): Config {
  return parseConfig(minimalConfig(parts), CONFIG_FILE, {});
}

describe("safety: mapping → defaults.safety → built-in", () => {
  it("keeps defaults.safety's maxRemovalPercent under a mapping block that sets only maxRemovals", () => {
    const c = config({
      mapping: "    safety: { maxRemovals: 10 }",
      top: "defaults:\n  safety: { maxRemovalPercent: 5 }",
    });
    // Today's code guarded this mapping at the built-in 20%: 4x looser than the admin set.
    expect(c.mappings[0]!.safety).toEqual({ maxRemovals: 10, maxRemovalPercent: 5 });
  });

  it("keeps defaults.safety's maxRemovals under a mapping block that sets only maxRemovalPercent", () => {
    const c = config({
      mapping: "    safety: { maxRemovalPercent: 30 }",
      top: "defaults:\n  safety: { maxRemovals: 7 }",
    });
    expect(c.mappings[0]!.safety).toEqual({ maxRemovals: 7, maxRemovalPercent: 30 });
  });

  it("fills what neither level sets from the built-in defaults", () => {
    expect(config({ top: "defaults:\n  safety: { maxRemovals: 7 }" }).mappings[0]!.safety).toEqual({
      maxRemovals: 7,
      maxRemovalPercent: SAFETY_DEFAULTS.maxRemovalPercent,
    });
    expect(config({ mapping: "    safety: {}" }).mappings[0]!.safety).toEqual(SAFETY_DEFAULTS);
    expect(config().mappings[0]!.safety).toEqual({ maxRemovals: 50, maxRemovalPercent: 20 });
  });

  it("lets a mapping set 0, which is not the same as leaving it out", () => {
    const c = config({
      mapping: "    safety: { maxRemovals: 0 }",
      top: "defaults:\n  safety: { maxRemovals: 7, maxRemovalPercent: 5 }",
    });
    expect(c.mappings[0]!.safety).toEqual({ maxRemovals: 0, maxRemovalPercent: 5 });
  });
});

describe("provider rateLimit and retry: provider → defaults → built-in", () => {
  it("takes the fields a provider leaves out of rateLimit from defaults.rateLimit", () => {
    const c = config({
      provider: "    rateLimit: { concurrency: 2 }",
      top: "defaults:\n  rateLimit: { requestsPerSecond: 3 }",
    });
    expect(c.providers.district!.rateLimit).toEqual({ requestsPerSecond: 3, concurrency: 2 });
  });

  it("takes the fields a provider leaves out of retry from defaults.retry", () => {
    const c = config({
      provider: "    retry: { limit: 2 }",
      top: "defaults:\n  retry: { maxDelayMs: 5000 }",
    });
    expect(c.providers.district!.retry).toEqual({
      limit: 2,
      baseDelayMs: RETRY_DEFAULTS.baseDelayMs,
      maxDelayMs: 5000,
    });
  });

  it("gives a provider without blocks the defaults' blocks, else the built-in ones", () => {
    expect(
      config({ top: "defaults:\n  rateLimit: { concurrency: 1 }" }).providers.district!.rateLimit,
    ).toEqual({
      requestsPerSecond: RATE_LIMIT_DEFAULTS.requestsPerSecond,
      concurrency: 1,
    });
    const plain = config().providers.district!;
    expect(plain.rateLimit).toEqual({ requestsPerSecond: 10, concurrency: 4 });
    expect(plain.retry).toEqual({ limit: 6, baseDelayMs: 500, maxDelayMs: 60_000 });
  });

  it("fills the built-in defaults for a provider parsed on its own", () => {
    const p = providerSchema.parse({ type: "csv", path: "x", rateLimit: { concurrency: 9 } });
    expect(p.rateLimit).toEqual({ requestsPerSecond: 10, concurrency: 9 });
    expect(p.retry).toEqual(RETRY_DEFAULTS);
  });
});

describe("blocks with only the built-in level above them", () => {
  it("worker: a partial block keeps the other built-in values", () => {
    expect(config({ top: "worker: { concurrency: 2 }" }).worker).toEqual({
      concurrency: 2,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      shutdownGraceMs: 30_000,
      relayIntervalMs: 1000,
      maxStalledCount: 2,
    });
    expect(config().worker.concurrency).toBe(4);
  });

  it("database, redis, defaults and sinks: a partial block keeps the other built-in values", () => {
    const c = config({
      top: [
        "redis: { prefix: '{x}' }",
        "defaults: { timezone: Europe/Paris }",
        "events:",
        "  sinks:",
        "    - { type: webhook, url: 'http://127.0.0.1:1/h', secret: '${WEBHOOK_SECRET:-dev}' }",
        "    - { type: queue }",
      ].join("\n"),
    });
    expect(c.redis).toEqual({ url: "redis://127.0.0.1:6379", prefix: "{x}" });
    expect(c.database).toEqual({ url: "file:./data/roster-sync" });
    expect(c.timezone).toBe("Europe/Paris");
    expect(c.mappings[0]!.schedule).toBe("0 2 * * *");
    expect(c.mappings[0]!.safety).toEqual(SAFETY_DEFAULTS);
    expect(c.sinks[0]).toMatchObject({ type: "webhook", timeoutMs: 10_000 });
    expect(c.sinks[1]).toEqual({ type: "queue", name: "roster-events" });
  });
});
