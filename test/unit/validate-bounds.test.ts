// What `validate` asks of a provider: its requests and retries fit inside `--timeout`, whatever the
// provider's own `retry` and `timeoutMs` say (those are for syncs, which wait out an outage).
import { describe, expect, it } from "vitest";
import { boundedProvider, timeoutSeconds, VALIDATE_TIMEOUT_SECONDS } from "../../src/cli/validate.js";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";

function provider(extra: Record<string, unknown> = {}): ProviderConfig {
  return {
    ...providerSchema.parse({
      type: "oneroster",
      baseUrl: "https://district.example/ims/oneroster/v1p1/",
      auth: { method: "none" },
      ...extra,
    }),
    name: "district",
  };
}

describe("validate's bound", () => {
  it.each([
    { given: undefined, seconds: VALIDATE_TIMEOUT_SECONDS },
    { given: "2", seconds: 2 },
    { given: "0.5", seconds: 0.5 },
    { given: "300", seconds: 300 },
  ])("--timeout $given is $seconds s", ({ given, seconds }) => {
    expect(timeoutSeconds(given)).toBe(seconds);
  });

  it.each(["0", "-1", "", " ", "soon", "5s", "301", "Infinity", "NaN"])(
    "--timeout %j is refused",
    (given) => {
      expect(() => timeoutSeconds(given)).toThrow(
        /^--timeout must be a number of seconds above 0 and at most 300/,
      );
    },
  );

  it("cuts the defaults (6 retries up to 60 s apart, 30 s per request) to one short retry inside the bound", () => {
    const bounded = boundedProvider(provider(), 5000);
    expect(bounded.timeoutMs).toBe(5000);
    expect(bounded.retry).toEqual({ limit: 1, baseDelayMs: 500, maxDelayMs: 500 });
    // Nothing else changes: the same URL, credentials and limits are checked.
    expect({ ...bounded, timeoutMs: 0, retry: null }).toEqual({ ...provider(), timeoutMs: 0, retry: null });
  });

  it("keeps what is already tighter", () => {
    const tight = provider({ timeoutMs: 800, retry: { limit: 0, baseDelayMs: 10, maxDelayMs: 100 } });
    expect(boundedProvider(tight, 5000)).toMatchObject({
      timeoutMs: 800,
      retry: { limit: 0, baseDelayMs: 10, maxDelayMs: 100 },
    });
  });
});
