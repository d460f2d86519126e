import { describe, expect, it } from "vitest";
import {
  classifyStatus,
  isRetriableError,
  retryDelay,
  serverRequestedDelay,
  type RetryDelayInput,
} from "../../src/providers/retry.js";

const NOW = Date.parse("2026-11-29T07:00:00.000Z");
const base: RetryDelayInput = {
  attempt: 1,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  now: NOW,
  random: 0.999999,
};

describe("retryDelay: exponential backoff with full jitter", () => {
  it.each([
    { attempt: 1, max: 500 },
    { attempt: 2, max: 1000 },
    { attempt: 3, max: 2000 },
    { attempt: 4, max: 4000 },
    { attempt: 8, max: 60_000 }, // 500 * 2^7 = 64 s, capped
    { attempt: 20, max: 60_000 },
  ])("retry $attempt waits at most $max ms", ({ attempt, max }) => {
    expect(retryDelay({ ...base, attempt, random: 0 })).toBe(0);
    const top = retryDelay({ ...base, attempt, random: 0.999999 });
    expect(top).toBeLessThanOrEqual(max);
    expect(top).toBeGreaterThanOrEqual(max - 1);
    expect(retryDelay({ ...base, attempt, random: 0.5 })).toBe(Math.floor(max / 2));
  });

  it("keeps every jittered delay within [0, cap]", () => {
    for (let attempt = 1; attempt <= 12; attempt += 1) {
      for (const random of [0, 0.1, 0.37, 0.5, 0.99, 1]) {
        const delay = retryDelay({ ...base, attempt, random, maxDelayMs: 5000 });
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(5000, 500 * 2 ** (attempt - 1)));
      }
    }
  });

  it("is 0 with a 0 base delay", () => {
    expect(retryDelay({ ...base, baseDelayMs: 0, attempt: 5 })).toBe(0);
  });
});

describe("retryDelay: what the server asks for", () => {
  it.each([
    { name: "Retry-After seconds", retryAfter: "3", expected: 3000 },
    { name: "Retry-After 0", retryAfter: "0", expected: 0 },
    { name: "Retry-After HTTP date", retryAfter: "Sun, 29 Nov 2026 07:00:05 GMT", expected: 5000 },
    { name: "Retry-After date in the past", retryAfter: "Sun, 29 Nov 2026 06:59:00 GMT", expected: 0 },
    { name: "Retry-After beyond the cap", retryAfter: "3600", expected: 60_000 },
    { name: "X-RateLimit-Reset epoch seconds", rateLimitReset: String(NOW / 1000 + 7), expected: 7000 },
    { name: "X-RateLimit-Reset as a delta", rateLimitReset: "2", expected: 2000 },
    {
      name: "Retry-After wins over X-RateLimit-Reset",
      retryAfter: "1",
      rateLimitReset: String(NOW / 1000 + 30),
      expected: 1000,
    },
  ])("$name → $expected ms", ({ retryAfter, rateLimitReset, expected }) => {
    expect(retryDelay({ ...base, attempt: 3, retryAfter, rateLimitReset, random: 0.3 })).toBe(expected);
  });

  it("falls back to backoff when the header is unusable", () => {
    expect(serverRequestedDelay({ retryAfter: "soon", now: NOW })).toBeUndefined();
    expect(retryDelay({ ...base, retryAfter: "soon", random: 0.5 })).toBe(250);
    expect(retryDelay({ ...base, rateLimitReset: "-5", random: 0.5 })).toBe(250);
  });
});

describe("what is retried", () => {
  it.each([
    [200, "ok"],
    [204, "ok"],
    [408, "retry"],
    [429, "retry"],
    [500, "retry"],
    [502, "retry"],
    [503, "retry"],
    [504, "retry"],
    [400, "fail"],
    [404, "fail"],
    [409, "fail"],
    [422, "fail"],
    [501, "fail"],
    [301, "fail"],
    [401, "auth"],
    [403, "auth"],
  ] as const)("HTTP %i is %s", (status, expected) => {
    expect(classifyStatus(status)).toBe(expected);
  });

  it.each(["ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EPIPE", "EAI_AGAIN", "ENOTFOUND"])(
    "network error %s is retried",
    (code) => {
      expect(isRetriableError(Object.assign(new Error(code), { code }))).toBe(true);
    },
  );

  it("retries got's TimeoutError and nothing unknown", () => {
    expect(
      isRetriableError(Object.assign(new Error("Timeout"), { name: "TimeoutError", code: "ETIMEDOUT" })),
    ).toBe(true);
    expect(isRetriableError(Object.assign(new Error("x"), { code: "ERR_INVALID_URL" }))).toBe(false);
    expect(isRetriableError(new Error("plain"))).toBe(false);
    expect(isRetriableError("ECONNRESET")).toBe(false);
  });
});
