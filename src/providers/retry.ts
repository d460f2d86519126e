// What a provider request retries, and how long it waits first (SPEC §4). Pure: the clock and the
// random number are parameters, so the table and the delays are tested without waiting.
// (Modelled on got's source/core/calculate-retry-delay.ts, with our own table: got's retry is
// disabled because an OAuth1 retry must be signed afresh.)

const SECOND = 1000;

/**
 * Statuses worth trying again: rate limited, server busy or down, gateway trouble. 408 is the
 * server giving up on a slow request; 521/522/524 are Cloudflare's origin-down family. Every other
 * 4xx is permanent (a retry sends the same bad request), and 401/403 are handled as auth failures.
 */
export const RETRIABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504, 521, 522, 524]);

/**
 * Network error codes worth trying again (got's default list). `ETIMEDOUT` is also the code of
 * got's own `TimeoutError`. ENOTFOUND is included because resolvers fail transiently; a host that
 * truly does not exist costs `retry.limit` backoffs before the run fails.
 */
export const RETRIABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ECONNABORTED",
  "EADDRINUSE",
]);

export type StatusClass = "ok" | "retry" | "auth" | "fail";

/** How a response status is treated: 2xx ok, the retriable set retried, 401/403 auth, the rest fail. */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) {
    return "ok";
  }
  if (RETRIABLE_STATUSES.has(status)) {
    return "retry";
  }
  if (status === 401 || status === 403) {
    return "auth";
  }
  return "fail";
}

/** True for a network failure (got RequestError / TimeoutError, or a Node system error) worth retrying. */
export function isRetriableError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) {
    return false;
  }
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (name === "TimeoutError") {
    return true;
  }
  return typeof code === "string" && RETRIABLE_ERROR_CODES.has(code);
}

export interface RetryDelayInput {
  /** The retry about to be made: 1 for the first retry, 2 for the second, … */
  attempt: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** `Retry-After` as sent: delay-seconds or an HTTP date. */
  retryAfter?: string | undefined;
  /** `X-RateLimit-Reset` as sent: epoch seconds (or, when small, seconds from now). Pass it for 429s only. */
  rateLimitReset?: string | undefined;
  /** Current time, epoch milliseconds. */
  now: number;
  /** A random number in [0, 1). */
  random: number;
}

/** Epoch seconds smaller than this are taken as seconds from now (some servers send a delta). */
const EPOCH_SECONDS_FLOOR = 1_000_000_000;

/** Milliseconds the server asked us to wait, or undefined when it asked nothing usable. */
export function serverRequestedDelay(
  input: Pick<RetryDelayInput, "retryAfter" | "rateLimitReset" | "now">,
): number | undefined {
  const retryAfter = input.retryAfter?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) {
      return Number(retryAfter) * SECOND;
    }
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) {
      return Math.max(0, date - input.now);
    }
  }
  const reset = input.rateLimitReset?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    const value = Number(reset);
    return value < EPOCH_SECONDS_FLOOR ? value * SECOND : Math.max(0, value * SECOND - input.now);
  }
  return undefined;
}

/**
 * Milliseconds to wait before retry number `attempt`. What the server asked for (`Retry-After`,
 * else `X-RateLimit-Reset`) wins; otherwise exponential backoff with full jitter:
 * `random * min(maxDelayMs, baseDelayMs * 2^(attempt-1))`. Always capped at `maxDelayMs`.
 */
export function retryDelay(input: RetryDelayInput): number {
  const cap = Math.max(0, input.maxDelayMs);
  const requested = serverRequestedDelay(input);
  if (requested !== undefined) {
    return Math.min(cap, Math.ceil(requested));
  }
  const exponent = Math.max(0, input.attempt - 1);
  const ceiling = Math.min(cap, input.baseDelayMs * 2 ** exponent);
  const random = Math.min(Math.max(input.random, 0), 1);
  return Math.floor(random * ceiling);
}
