// The providers of one process (SPEC §4): runs of mappings on one provider may overlap (`worker`
// concurrency, `sync`'s fetch-ahead), and requests to one provider share one rate budget and one
// concurrency cap across every run, of every provider type. So each provider keeps, for as long as
// its config is unchanged, one got instance, one authorizer (an OAuth2 token is fetched once, not
// per run), one token bucket, one adaptive rate, one concurrency cap and (Clever) one
// X-RateLimit gate; each run gets a connector of its own, so that the request counts in its history
// row are its own. A changed provider config (SIGHUP) gets a fresh entry with a fresh budget; runs
// already holding the old one finish on it. A CSV bundle has no HTTP: its entry is the factory.
import type { Got } from "got";
import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import { oneRosterBaseUrl } from "../config/provider.js";
import type { MappingConfig, ProviderConfig } from "../config/schema.js";
import { RosterSyncError } from "../errors.js";
import { AdaptiveRate } from "./adaptive-rate.js";
import { createAuthorizer, type Authorizer } from "./auth.js";
import { CLEVER_BASE_URL, CleverConnector } from "./clever/connector.js";
import { RateLimitGate } from "./clever/rate-limit.js";
import { CsvConnector } from "./csv/connector.js";
import { createGotInstance, createHttpClient, pacedBurst } from "./http.js";
import { OneRosterConnector } from "./oneroster/connector.js";
import { TokenBucket } from "./token-bucket.js";
import type { Provider } from "./types.js";

/** What every run of one provider (one config) shares. */
export interface ProviderShare {
  /** The config it was built from, as JSON: another config gets another share. */
  readonly key: string;
  readonly got: Got;
  readonly auth: Authorizer;
  readonly bucket: TokenBucket;
  readonly rate: AdaptiveRate;
  readonly limit: LimitFunction;
  /** Clever only: a window spent by one run holds the others (one token, one window). */
  readonly gate: RateLimitGate | undefined;
}

export interface ConnectorOptions {
  logger?: Logger | undefined;
  /** The mappings the run serves (a CSV connector reads only what they use). */
  mappings?: readonly MappingConfig[] | undefined;
}

export interface ProviderRuntime {
  /** A connector for one run; closing it ends that run's waits and leaves the shared parts open. */
  connector(config: ProviderConfig, options?: ConnectorOptions): Provider;
  /** The share a connector of `config` gets now (undefined for CSV): for tests and diagnostics. */
  share(config: ProviderConfig): ProviderShare | undefined;
  /** After a reload: forgets the shares of providers removed or changed (runs holding one finish
   * on it); the others keep their budgets. */
  update(providers: Readonly<Record<string, ProviderConfig>>): void;
  /** At shutdown: ends every run's waits for a token or a rate-limit window (its next request
   * fails); a request in flight ends by its own timeout. Later `connector` calls throw. */
  close(): Promise<void>;
}

/**
 * A run's view of its provider's bucket: it takes tokens from the shared bucket, and closing the
 * run's connector (which clears its bucket) abandons only this run's own waits.
 */
class BucketShare extends TokenBucket {
  readonly #waits = new Set<(error: Error) => void>();

  constructor(readonly shared: TokenBucket) {
    super({ requestsPerSecond: shared.requestsPerSecond, burst: shared.burst });
  }

  override take(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waits.add(reject);
      this.shared.take().then(
        () => this.#waits.delete(reject) && resolve(),
        (error: Error) => this.#waits.delete(reject) && reject(error),
      );
    });
  }

  /** The adaptive rate lowers the provider's rate, not only this run's. */
  override setRate(requestsPerSecond: number): void {
    this.shared.setRate(requestsPerSecond);
  }

  override clear(reason: Error = new Error("token bucket cleared")): void {
    for (const reject of this.#waits) {
      reject(reason);
    }
    this.#waits.clear();
  }
}

/** The config the HTTP client of a REST provider is built from: its base URL filled in. */
function httpConfig(config: ProviderConfig): ProviderConfig {
  if (config.type === "clever") {
    return { ...config, baseUrl: config.baseUrl ?? CLEVER_BASE_URL };
  }
  // The schema already adds the version's base path to a bare origin; configs built in code
  // (tests, tools) get the same here, as OneRosterConnector does.
  return config.baseUrl ? { ...config, baseUrl: oneRosterBaseUrl(config.baseUrl, config.version) } : config;
}

function closedError(): RosterSyncError {
  return new RosterSyncError("PROVIDER_NETWORK", "the providers are closed (shutting down)");
}

export function createProviderRuntime(): ProviderRuntime {
  const shares = new Map<string, ProviderShare>();
  let closed = false;

  function shareOf(config: ProviderConfig): ProviderShare | undefined {
    if (config.type === "csv") {
      return undefined;
    }
    const key = JSON.stringify(config);
    const current = shares.get(config.name);
    if (current?.key === key) {
      return current;
    }
    // The old share is dropped, not closed: runs that started with it finish on it.
    const effective = httpConfig(config);
    const got = createGotInstance(effective);
    const rps = config.rateLimit.requestsPerSecond;
    const share: ProviderShare = {
      key,
      got,
      auth: createAuthorizer(effective, got),
      bucket: new TokenBucket({ requestsPerSecond: rps, burst: pacedBurst(rps) }),
      // A 429 seen by one run slows every run of the provider.
      rate: new AdaptiveRate({ maxRate: rps }),
      limit: pLimit(config.rateLimit.concurrency),
      gate:
        config.type === "clever"
          ? new RateLimitGate({ providerName: config.name, maxWaitMs: config.retry.maxDelayMs })
          : undefined,
    };
    shares.set(config.name, share);
    return share;
  }

  function build(config: ProviderConfig, options: ConnectorOptions): Provider {
    const { logger, mappings } = options;
    const share = shareOf(config);
    if (!share) {
      return new CsvConnector(config, { logger, mappings });
    }
    const http = createHttpClient(httpConfig(config), {
      logger,
      got: share.got,
      auth: share.auth,
      bucket: new BucketShare(share.bucket),
      rate: share.rate,
      limit: share.limit,
    });
    return config.type === "clever"
      ? new CleverConnector(config, { logger, http, gate: share.gate })
      : new OneRosterConnector(config, { logger, http });
  }

  return {
    connector(config, options = {}) {
      if (closed) {
        throw closedError();
      }
      return build(config, options);
    },
    share(config) {
      return shareOf(config);
    },
    update(providers) {
      for (const [name, share] of shares) {
        const config = providers[name];
        if (!config || JSON.stringify(config) !== share.key) {
          shares.delete(name);
        }
      }
    },
    async close() {
      closed = true;
      // A run's BucketShare waits on the shared bucket: clearing it ends those waits too.
      for (const share of shares.values()) {
        share.bucket.clear(closedError());
        share.gate?.close();
      }
      shares.clear();
    },
  };
}
