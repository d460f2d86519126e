// The HTTP client of one provider (SPEC §4): one got instance (timeout, no redirects, got's retry
// off), one token bucket, one concurrency cap, and our own retry loop so that every attempt is
// authorised afresh (OAuth1 needs a new nonce and timestamp per attempt; OAuth2 refreshes its token
// once on a 401). Errors name the provider, status and URL, never a secret, token or signature.
import got, { type Got } from "got";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { ProviderConfig } from "../config/schema.js";
import { ProviderError, RosterSyncError, safeUrl } from "../errors.js";
import { createAuthorizer, requireBaseUrl, type Authorization, type Authorizer } from "./auth.js";
import { fetchBounded, ResponseTooLargeError } from "./bounded-body.js";
import { AdaptiveRate, isThrottleSignal } from "./adaptive-rate.js";
import { classifyStatus, isRetriableError, retryDelay } from "./retry.js";
import { TokenBucket } from "./token-bucket.js";
import type { ProviderStats } from "./types.js";

export type Headers = Record<string, string | string[] | undefined>;

/** The provider's got instance: base URL, timeout; got's retry off (we retry, re-signing). */
export function createGotInstance(config: Pick<ProviderConfig, "baseUrl" | "timeoutMs">): Got {
  return got.extend({
    // Requests are made with absolute URLs (built by resolveUrl) because OAuth1 signs the exact
    // URL and Link headers give absolute ones; prefixUrl would reject both.
    timeout: { request: config.timeoutMs },
    retry: { limit: 0 },
    // A redirect would be followed with a signature made for another URL; report it instead.
    followRedirect: false,
    throwHttpErrors: false,
    responseType: "text",
    headers: { accept: "application/json", "user-agent": "roster-sync" },
  });
}

export interface JsonResponse {
  body: unknown;
  headers: Headers;
  /** The absolute URL that was requested (to resolve relative Link headers against). */
  url: string;
  status: number;
}

export type SearchParams = Record<string, string | number | undefined>;

export interface HttpClient {
  readonly stats: ProviderStats;
  readonly got: Got;
  /** GET and parse JSON; `urlOrPath` is absolute or relative to the provider's baseUrl. */
  getJson(urlOrPath: string, searchParams?: SearchParams): Promise<JsonResponse>;
  /** Rejects waiting requests; later calls fail. */
  close(): void;
}

export interface HttpClientOptions {
  logger?: Logger | undefined;
  /** Default: built from `config.auth` by createAuthorizer. */
  auth?: Authorizer;
  got?: Got;
  bucket?: TokenBucket;
  /** Default: an AdaptiveRate starting at, and never above, `rateLimit.requestsPerSecond`. */
  rate?: AdaptiveRate;
  /** The provider's concurrency cap, shared by its runs (src/providers/runtime.ts). Default: a
   * p-limit of `rateLimit.concurrency` for this client alone. */
  limit?: LimitFunction;
  /** Injectable for tests. */
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const EMPTY = Buffer.alloc(0);

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The default bucket's burst: a tenth of a second's worth of requests (at least 1). A server's
 * limiter is a bucket too, usually holding a second's worth; if ours also started full, our first
 * second would empty theirs and every later request would arrive at the exact moment their next
 * token does, so that any jitter on the way gives a 429. A small burst keeps their bucket nearly
 * full, and it still absorbs our timers firing late (a burst of 1 would lose what a late timer
 * earned above one token, several percent of the rate).
 */
export function pacedBurst(requestsPerSecond: number): number {
  return Math.max(1, Math.ceil(requestsPerSecond / 10));
}

/** RFC 3986 encoding for query values (a space is %20, not +: servers that verify OAuth1 expect it). */
function encodeQueryComponent(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Absolute URL of `urlOrPath` under `baseUrl` (whose path is kept), with `searchParams` appended. */
export function resolveUrl(baseUrl: string, urlOrPath: string, searchParams: SearchParams = {}): URL {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const url = /^[a-z][a-z0-9+.-]*:/i.test(urlOrPath)
    ? new URL(urlOrPath)
    : new URL(urlOrPath.replace(/^\/+/, ""), base);
  const extra = Object.entries(searchParams)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => `${encodeQueryComponent(k)}=${encodeQueryComponent(String(v))}`);
  if (extra.length > 0) {
    url.search = url.search ? `${url.search}&${extra.join("&")}` : `?${extra.join("&")}`;
  }
  return url;
}

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A network error reduced to its message and code: got's errors carry the request options (headers). */
function plainCause(error: unknown): Error {
  const { message, code } = error as { message?: unknown; code?: unknown };
  return Object.assign(new Error(String(message ?? error)), typeof code === "string" ? { code } : {});
}

type Attempt =
  | {
      kind: "response";
      status: number;
      headers: Headers;
      body: Buffer;
      onUnauthorized?: (() => boolean) | undefined;
    }
  | { kind: "error"; error: unknown };

export function createHttpClient(config: ProviderConfig, options: HttpClientOptions = {}): HttpClient {
  const baseUrl = requireBaseUrl(config);
  const provider = config.name;
  const client = options.got ?? createGotInstance(config);
  const auth = options.auth ?? createAuthorizer(config, client);
  const configuredRate = config.rateLimit.requestsPerSecond;
  const bucket =
    options.bucket ??
    new TokenBucket({ requestsPerSecond: configuredRate, burst: pacedBurst(configuredRate) });
  const rate = options.rate ?? new AdaptiveRate({ maxRate: configuredRate });
  const limit: LimitFunction = options.limit ?? pLimit(config.rateLimit.concurrency);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const logger = options.logger;
  const stats: ProviderStats = { requests: 0, retries: 0, status429: 0 };
  let closed = false;

  async function attempt(url: URL): Promise<Attempt> {
    return limit(async (): Promise<Attempt> => {
      if (closed) {
        return {
          kind: "error",
          error: new RosterSyncError("PROVIDER_NETWORK", `provider ${provider} is closed`),
        };
      }
      bucket.setRate(rate.current(now()));
      await bucket.take();
      let authorization: Authorization;
      try {
        authorization = await auth.authorize("GET", url);
      } catch (error) {
        return { kind: "error", error };
      }
      stats.requests += 1;
      try {
        const response = await fetchBounded(
          client,
          url.toString(),
          { headers: authorization.headers },
          // Only a 2xx body is used; the others are judged by status and headers alone.
          { maxBytes: config.maxResponseBytes, wantBody: (status) => classifyStatus(status) === "ok" },
        );
        return { kind: "response", ...response, onUnauthorized: authorization.onUnauthorized };
      } catch (error) {
        if (error instanceof ResponseTooLargeError) {
          return { kind: "error", error: tooLarge(url, error) };
        }
        return { kind: "error", error };
      }
    });
  }

  /** Sending the same request again gets the same answer: a permanent failure of the run. */
  function tooLarge(url: URL, error: ResponseTooLargeError): ProviderError {
    const where = safeUrl(url);
    return new ProviderError(
      "PROVIDER_RESPONSE",
      `provider ${provider}: the response at ${where} ${error.message}, the limit ` +
        `providers.${provider}.maxResponseBytes; the request was aborted`,
      provider,
      where,
      undefined,
    );
  }

  /** Takes the body out of `response` so that the bytes can be freed while their text is parsed. */
  function parseJson(response: { body: Buffer }, where: string, status: number): unknown {
    // One string from the whole buffer (never a concatenation of chunk strings), then JSON.parse.
    const body = response.body.toString("utf8");
    response.body = EMPTY;
    try {
      return JSON.parse(body);
    } catch {
      const trimmed = body.slice(0, 1000).trimStart();
      const what =
        trimmed === ""
          ? "an empty body"
          : trimmed.startsWith("<")
            ? "an HTML page"
            : `invalid JSON (starting ${JSON.stringify(trimmed.slice(0, 20))})`;
      throw new ProviderError(
        "PROVIDER_RESPONSE",
        `provider ${provider} answered ${what} instead of JSON (HTTP ${status}) at ${where}`,
        provider,
        where,
        status,
      );
    }
  }

  async function getJson(urlOrPath: string, searchParams?: SearchParams): Promise<JsonResponse> {
    if (closed) {
      throw new RosterSyncError("PROVIDER_NETWORK", `provider ${provider} is closed`);
    }
    const url = resolveUrl(baseUrl, urlOrPath, searchParams);
    const where = safeUrl(url);
    const maxRetries = config.retry.limit;
    let retries = 0;
    let refreshedAuth = false;

    for (;;) {
      const result = await attempt(url);
      let retryAfter: string | undefined;
      let rateLimitReset: string | undefined;
      let failure: ProviderError;

      if (result.kind === "error") {
        if (result.error instanceof ProviderError) {
          // From the authorizer (an OAuth2 token fetch): permanent ones end here.
          if (!result.error.retriable) {
            throw result.error;
          }
          failure = result.error;
        } else {
          const code = (result.error as { code?: unknown }).code;
          const retriable = isRetriableError(result.error);
          failure = new ProviderError(
            "PROVIDER_NETWORK",
            `provider ${provider}: request to ${where} failed (${typeof code === "string" ? code : plainCause(result.error).message})`,
            provider,
            where,
            undefined,
            { retriable, cause: plainCause(result.error) },
          );
          if (!retriable) {
            throw failure;
          }
        }
      } else {
        const { status, headers } = result;
        const kind = classifyStatus(status);
        if (status === 429) {
          stats.status429 += 1;
        }
        if (
          isThrottleSignal(
            status,
            headerValue(headers, "x-ratelimit-remaining"),
            headerValue(headers, "x-ratelimit-limit"),
          )
        ) {
          const before = rate.current(now());
          const after = rate.throttled(now());
          if (after < before) {
            logger?.warn(
              { provider, status, requestsPerSecond: Math.round(after * 100) / 100 },
              "provider is limiting us; lowering the request rate",
            );
          }
          bucket.setRate(after);
        }
        if (kind === "ok") {
          return { body: parseJson(result, where, status), headers, url: url.toString(), status };
        }
        if (kind === "auth") {
          if (status === 401 && !refreshedAuth && result.onUnauthorized?.()) {
            refreshedAuth = true;
            stats.retries += 1;
            logger?.info({ provider, url: where, status }, "provider rejected the token; fetching a new one");
            continue;
          }
          const verb = status === 401 ? "rejected the credentials" : "refused access";
          throw new ProviderError(
            "PROVIDER_AUTH",
            `provider ${provider} ${verb} (HTTP ${status}) at ${where}`,
            provider,
            where,
            status,
          );
        }
        if (kind === "fail") {
          const location = headerValue(headers, "location");
          const detail =
            status >= 300 && status < 400 && location
              ? ` redirecting to ${safeUrl(URL.canParse(location, url.toString()) ? new URL(location, url) : location)}; set baseUrl to the final address`
              : "";
          throw new ProviderError(
            "PROVIDER_HTTP",
            `provider ${provider} answered HTTP ${status} at ${where}${detail}`,
            provider,
            where,
            status,
          );
        }
        failure = new ProviderError(
          "PROVIDER_HTTP",
          `provider ${provider} answered HTTP ${status} at ${where}`,
          provider,
          where,
          status,
          { retriable: true },
        );
        retryAfter = headerValue(headers, "retry-after");
        rateLimitReset = status === 429 ? headerValue(headers, "x-ratelimit-reset") : undefined;
      }

      if (retries >= maxRetries) {
        throw new ProviderError(
          failure.code as "PROVIDER_HTTP" | "PROVIDER_NETWORK",
          `${failure.message}; gave up after ${retries + 1} attempts`,
          provider,
          where,
          failure.status,
          { retriable: true, cause: failure.cause },
        );
      }
      retries += 1;
      stats.retries += 1;
      const delay = retryDelay({
        attempt: retries,
        baseDelayMs: config.retry.baseDelayMs,
        maxDelayMs: config.retry.maxDelayMs,
        retryAfter,
        rateLimitReset,
        now: now(),
        random: random(),
      });
      logger?.warn(
        { provider, url: where, status: failure.status, retry: retries, delayMs: delay },
        `${failure.message}; retrying`,
      );
      // Waits outside the concurrency slot so other requests proceed meanwhile.
      await sleep(delay);
      if (closed) {
        throw failure;
      }
    }
  }

  return {
    stats,
    got: client,
    getJson,
    close() {
      closed = true;
      bucket.clear(new RosterSyncError("PROVIDER_NETWORK", `provider ${provider} is closed`));
    },
  };
}
