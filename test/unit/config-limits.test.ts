// The bounds of the limits issue 9 item 5 added: providers.*.maxResponseBytes and
// worker.maxStalledCount, with their defaults, and the key path of a value out of range.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

const FILE = "/etc/roster/sync.config.yaml";

function config(provider: string, worker = ""): string {
  return `
providers:
  district:
    type: oneroster
    baseUrl: http://127.0.0.1:8299/ims/oneroster/v1p1/
    auth: { method: bearer, token: t }
${provider}
mappings:
  - { name: all, provider: district, users: students, product: p }
${worker}
`;
}

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, FILE, {});
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("maxResponseBytes", () => {
  it("defaults to 64 MiB", () => {
    expect(parseConfig(config(""), FILE, {}).providers.district!.maxResponseBytes).toBe(64 * 2 ** 20);
  });

  it("takes 1 KiB to 512 MiB", () => {
    for (const ok of [1024, 512 * 2 ** 20]) {
      const parsed = parseConfig(config(`    maxResponseBytes: ${ok}`), FILE, {});
      expect(parsed.providers.district!.maxResponseBytes).toBe(ok);
    }
    for (const bad of [1023, 512 * 2 ** 20 + 1]) {
      const error = errorOf(config(`    maxResponseBytes: ${bad}`));
      expect(error.message).toContain("providers.district.maxResponseBytes");
      expect(error.line).toBe(7);
    }
  });
});

describe("worker.maxStalledCount", () => {
  it("defaults to 2 and takes 1 to 100", () => {
    expect(parseConfig(config(""), FILE, {}).worker.maxStalledCount).toBe(2);
    expect(parseConfig(config("", "worker: { maxStalledCount: 1 }"), FILE, {}).worker.maxStalledCount).toBe(
      1,
    );
    const error = errorOf(config("", "worker: { maxStalledCount: 0 }"));
    expect(error.message).toContain("worker.maxStalledCount");
  });
});
