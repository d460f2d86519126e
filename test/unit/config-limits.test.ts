// The bounds of the limits issue 9 item 5 added: providers.*.maxResponseBytes and
// worker.maxStalledCount, with their defaults, and the key path of a value out of range.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { CONFIG_FILE as FILE, configErrorOf, minimalConfig } from "../helpers/config.js";

describe("maxResponseBytes", () => {
  it("defaults to 64 MiB", () => {
    expect(parseConfig(minimalConfig(), FILE, {}).providers.district!.maxResponseBytes).toBe(64 * 2 ** 20);
  });

  it("takes 1 KiB to 512 MiB", () => {
    for (const ok of [1024, 512 * 2 ** 20]) {
      const parsed = parseConfig(minimalConfig({ provider: `    maxResponseBytes: ${ok}` }), FILE, {});
      expect(parsed.providers.district!.maxResponseBytes).toBe(ok);
    }
    for (const bad of [1023, 512 * 2 ** 20 + 1]) {
      const error = configErrorOf(minimalConfig({ provider: `    maxResponseBytes: ${bad}` }));
      expect(error.message).toContain("providers.district.maxResponseBytes");
      expect(error.line).toBe(7);
    }
  });
});

describe("worker.maxStalledCount", () => {
  it("defaults to 2 and takes 1 to 100", () => {
    expect(parseConfig(minimalConfig(), FILE, {}).worker.maxStalledCount).toBe(2);
    expect(
      parseConfig(minimalConfig({ top: "worker: { maxStalledCount: 1 }" }), FILE, {}).worker.maxStalledCount,
    ).toBe(1);
    const error = configErrorOf(minimalConfig({ top: "worker: { maxStalledCount: 0 }" }));
    expect(error.message).toContain("worker.maxStalledCount");
  });
});
