// OAuth 2 client credentials (RFC 6749 §4.4) for OneRoster servers that use it (SPEC §4): one token
// per provider, cached until shortly before `expires_in`, fetched once for all concurrent callers,
// and dropped on a 401 so that the next request fetches a fresh one. The token and the secret
// never appear in errors or logs. The token response is the provider's to write like any other:
// it is read within the provider's maxResponseBytes.
import type { Got } from "got";
import { ProviderError, safeUrl } from "../../../errors.js";
import { fetchBounded, ResponseTooLargeError } from "../../bounded-body.js";
import { isRetriableError, RETRIABLE_STATUSES } from "../../retry.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** Used when the server sends no usable `expires_in`; a 401 still refreshes earlier. */
const DEFAULT_LIFETIME = 60 * MINUTE;

export interface OAuth2Options {
  providerName: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes, sent as `scope` when set. */
  scope?: string | undefined;
  /** The HTTP client (the provider's got instance: timeout, no retry). */
  got: Got;
  /** Decoded bytes of the token response read at most (the provider's maxResponseBytes). */
  maxResponseBytes: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

/** `<origin of baseUrl>/oauth/token`: the default documented in config/provider.ts. */
export function defaultTokenUrl(baseUrl: string): string {
  return new URL("/oauth/token", new URL(baseUrl).origin).toString();
}

/** Refresh this long before expiry: 10% of the lifetime, at most a minute. */
export function refreshMargin(lifetimeMs: number): number {
  return Math.min(MINUTE, lifetimeMs / 10);
}

interface CachedToken {
  value: string;
  /** Epoch ms after which the token is fetched again. */
  refreshAt: number;
}

export class OAuth2TokenSource {
  readonly #options: OAuth2Options;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #inFlight: Promise<string> | undefined;
  /** Tokens fetched so far (for tests and metrics). */
  fetches = 0;

  constructor(options: OAuth2Options) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** A valid access token: the cached one, the one being fetched, or a new one. */
  token(): Promise<string> {
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) {
      return Promise.resolve(cached.value);
    }
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /**
   * Forgets the cached token after a 401. With `rejected`, only when it is still the cached one, so
   * that several requests failing with the same old token cause one refresh, not one each.
   */
  invalidate(rejected?: string): void {
    if (rejected === undefined || this.#cached?.value === rejected) {
      this.#cached = undefined;
    }
  }

  async #fetch(): Promise<string> {
    const { providerName, tokenUrl, clientId, clientSecret, scope, got, maxResponseBytes } = this.#options;
    const where = safeUrl(tokenUrl);
    const form: Record<string, string> = { grant_type: "client_credentials" };
    if (scope) {
      form.scope = scope;
    }
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
      "base64",
    );
    this.fetches += 1;
    let response;
    try {
      response = await fetchBounded(
        got,
        tokenUrl,
        { method: "POST", form, headers: { authorization: `Basic ${basic}`, accept: "application/json" } },
        { maxBytes: maxResponseBytes, wantBody: (status) => status >= 200 && status < 300 },
      );
    } catch (error) {
      if (error instanceof ResponseTooLargeError) {
        throw new ProviderError(
          "PROVIDER_RESPONSE",
          `provider ${providerName}: the token response at ${where} ${error.message}, the limit ` +
            `providers.${providerName}.maxResponseBytes; the request was aborted`,
          providerName,
          where,
          undefined,
        );
      }
      const { code, message } = error as { code?: string; message?: string };
      throw new ProviderError(
        "PROVIDER_NETWORK",
        `provider ${providerName}: token request to ${where} failed (${code ?? message ?? "network error"})`,
        providerName,
        where,
        undefined,
        { retriable: isRetriableError(error), cause: Object.assign(new Error(String(message)), { code }) },
      );
    }
    const { status } = response;
    if (status === 400 || status === 401 || status === 403) {
      throw new ProviderError(
        "PROVIDER_AUTH",
        `provider ${providerName} rejected the client credentials (HTTP ${status}) at ${where}`,
        providerName,
        where,
        status,
      );
    }
    if (status < 200 || status >= 300) {
      throw new ProviderError(
        "PROVIDER_HTTP",
        `provider ${providerName}: token endpoint answered HTTP ${status} at ${where}`,
        providerName,
        where,
        status,
        { retriable: RETRIABLE_STATUSES.has(status) },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(response.body.toString("utf8"));
    } catch {
      body = undefined;
    }
    const { access_token: accessToken, expires_in: expiresIn } = (body ?? {}) as Record<string, unknown>;
    if (typeof accessToken !== "string" || accessToken === "") {
      throw new ProviderError(
        "PROVIDER_RESPONSE",
        `provider ${providerName}: token endpoint ${where} sent no access_token in a JSON body`,
        providerName,
        where,
        status,
      );
    }
    const seconds = typeof expiresIn === "string" ? Number(expiresIn) : expiresIn;
    const lifetime =
      typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0
        ? seconds * SECOND
        : DEFAULT_LIFETIME;
    this.#cached = { value: accessToken, refreshAt: this.#now() + lifetime - refreshMargin(lifetime) };
    return accessToken;
  }
}
