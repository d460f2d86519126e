// A provider entry of `sync.config.yaml` (SPEC §2): its type, where it lives, its credentials and
// the limits of the requests sent to it. Every field is documented here, once, with its default.
import { z } from "zod";
import { SECOND } from "../util/time.js";
import { matchFields, nonEmpty } from "./fields.js";
import { inherit, type Filled } from "./inherit.js";

const MIB = 2 ** 20;

/** Credentials of a provider. Values normally come from `${ENV}` references, never from the file. */
export const authSchema = z.discriminatedUnion("method", [
  z
    .object({
      /** OAuth 1.0a, HMAC-SHA256, query parameters signed (ClassLink style). */
      method: z.literal("oauth1"),
      clientId: nonEmpty,
      clientSecret: nonEmpty,
    })
    .strict(),
  z
    .object({
      /** OAuth 2 client credentials; the token is cached until shortly before `expires_in`. */
      method: z.literal("oauth2"),
      clientId: nonEmpty,
      clientSecret: nonEmpty,
      /** Token endpoint. Default: `<origin of baseUrl>/oauth/token`. */
      tokenUrl: z.url().optional(),
      /** Space-separated scopes, sent as `scope`. Default: none. OneRoster 1.2 servers usually want one:
       * `https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly` covers every endpoint
       * this tool reads (users, classes, courses, orgs, enrollments); `…/scope/roster.readonly` is
       * the wider one (adds demographics). 1.1 servers that use OAuth 2 name them with `v1p1`. */
      scope: z.string().optional(),
    })
    .strict(),
  z
    .object({
      /** A static bearer token (Clever district token, or a pre-issued OneRoster token). */
      method: z.literal("bearer"),
      token: nonEmpty,
    })
    .strict(),
  z.object({ method: z.literal("none") }).strict(),
]);
export type AuthConfig = z.infer<typeof authSchema>;

export const rateLimitSchema = z
  .object({
    /** Token bucket shared by every request to this provider, of every run in the process. Default 10. */
    requestsPerSecond: z.number().positive().max(10_000).optional(),
    /** Requests to this provider in flight at once, across every run in the process (p-limit).
     * Default 4. */
    concurrency: z.number().int().min(1).max(256).optional(),
  })
  .strict();
export type RateLimitConfig = Filled<z.infer<typeof rateLimitSchema>>;
export const RATE_LIMIT_DEFAULTS = { requestsPerSecond: 10, concurrency: 4 } satisfies RateLimitConfig;

export const retrySchema = z
  .object({
    /** Retries of one request after 429, 5xx and network errors. Default 6. */
    limit: z.number().int().min(0).max(20).optional(),
    /** First backoff delay; doubles each retry, with full jitter. Default 500 ms. */
    baseDelayMs: z.number().int().min(0).optional(),
    /** Upper bound of one backoff delay (and of an honoured Retry-After). Default 60 s. */
    maxDelayMs: z.number().int().min(0).optional(),
  })
  .strict();
export type RetryConfig = Filled<z.infer<typeof retrySchema>>;
export const RETRY_DEFAULTS = {
  limit: 6,
  baseDelayMs: 500,
  maxDelayMs: 60 * SECOND,
} satisfies RetryConfig;

/** The rostering base path of each OneRoster version (IMS REST bindings 1.1 and 1.2). */
export const ONEROSTER_BASE_PATHS = {
  "1.1": "/ims/oneroster/v1p1/",
  "1.2": "/ims/oneroster/rostering/v1p2/",
} as const satisfies Record<"1.1" | "1.2", string>;

/** A baseUrl that is only an origin (no path, or `/`) gets the version's base path; any other is kept. */
export function oneRosterBaseUrl(baseUrl: string, version: "1.1" | "1.2"): string {
  const url = new URL(baseUrl);
  if (url.pathname !== "/" || url.search !== "") {
    return baseUrl;
  }
  return new URL(ONEROSTER_BASE_PATHS[version], url).toString();
}

/** A provider as written; `providerSchema` (below) is the same with the built-in defaults filled in. */
export const providerInputSchema = z
  .object({
    /** oneroster | classlink | clever | csv.
     *
     * classlink: a preset of oneroster for ClassLink Roster Server, OneRoster 1.1 signed with
     * OAuth 1.0a HMAC-SHA256 (`auth.method` must be oauth1, `version` stays "1.1", `baseUrl` is
     * required). Each district's server has its own host, shown with the key and secret in the
     * ClassLink developer console (OneRoster module), e.g.
     * `https://<tenant>-<app>.oneroster.com/ims/oneroster/v1p1/`; giving only the origin adds
     * that path. ClassLink limits requests per server and answers 429 when they are exceeded,
     * asking for exponential backoff with jitter on 429 and 5xx (which `retry` does): start at
     * `rateLimit: { requestsPerSecond: 10, concurrency: 4 }` (the defaults) and lower it if 429s
     * show up in the run summaries; a larger `pageSize` (e.g. 1000) spends fewer requests, and a
     * server that caps `limit` lower is paged correctly anyway. The ClassLink OAuth 2 proxy (`https://oneroster-proxy.classlink.io/<appId>/ims/oneroster/v1p1/`
     * with a bearer access token) is not this preset: configure it as `type: oneroster` with
     * `auth.method: bearer`. */
    type: z.enum(["oneroster", "classlink", "clever", "csv"]),
    /** OneRoster version: "1.1" (default) or "1.2". 1.2 servers usually use `auth.method: oauth2`
     * with a scope (see `auth.scope`); some serve only top-level collections, which the connector
     * detects and works around (README, "OneRoster 1.1 / 1.2"). */
    version: z.enum(["1.1", "1.2"]).default("1.1"),
    /** Base URL of the rostering API, e.g. https://host/ims/oneroster/v1p1/. Required for REST types,
     * except clever: default https://api.clever.com/ (paths get `v3.0/` unless baseUrl ends in a version).
     * oneroster / classlink: a URL with a path is used as given (servers mount the API in odd places);
     * a bare origin (`https://host` or `https://host/`) gets the version's path, `/ims/oneroster/v1p1/`
     * (1.1) or `/ims/oneroster/rostering/v1p2/` (1.2). The OAuth 2 `tokenUrl` default is built from
     * the origin either way. */
    baseUrl: z.url().optional(),
    /** csv: a folder or a .zip holding a OneRoster 1.1 CSV bundle. A relative path is relative to the
     * folder of the config file (not the working directory), so the worker finds it wherever it starts. */
    path: z.string().optional(),
    /** Required for REST types. */
    auth: authSchema.optional(),
    /** Records per page (`limit`), 1 to 10000 (Clever's ceiling). Servers may cap it lower; paging
     * copes. Default 100. */
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(10_000, "must be at most 10000 (Clever answers a larger `limit` with 413)")
      .default(100),
    /** Each field: this block, else `defaults.rateLimit`, else RATE_LIMIT_DEFAULTS. */
    rateLimit: rateLimitSchema.optional(),
    /** Each field: this block, else `defaults.retry`, else RETRY_DEFAULTS. */
    retry: retrySchema.optional(),
    /** Per-request timeout. Default 30 s. */
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30 * SECOND),
    /** Largest response body accepted from this provider (REST types), in bytes once decoded (gzip,
     * deflate and br bodies are counted after decompression, while they stream). Past it the request
     * is aborted and the run fails, not retried, naming the URL and this limit; it also bounds the
     * OAuth 2 token response. 1 KiB to 512 MiB (about the longest string V8 can parse). Default
     * 64 MiB, several times a 10,000-record page. */
    maxResponseBytes: z
      .number()
      .int()
      .min(1024)
      .max(512 * MIB)
      .default(64 * MIB),
    /** Most records one collection (or one CSV file) may hold. Past it the fetch stops and the run
     * fails, not retried, naming the collection: it bounds what a provider that pages forever (or
     * an export that never ends) can make us hold. 1 to 10,000,000. Default 1,000,000, several times
     * the users of the largest US district. */
    maxRecords: z.number().int().min(1).max(10_000_000).default(1_000_000),
    /** Group fields compared with a mapping's `match` by default. Default [sourcedId, name, title]. */
    matchGroupsBy: matchFields.default(["sourcedId", "name", "title"]),
    /** The user field that identifies a user across runs. Default sourcedId. */
    keyIdentifier: nonEmpty.default("sourcedId"),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.type === "csv") {
      if (!p.path) {
        ctx.addIssue({ code: "custom", path: ["path"], message: "is required for type csv" });
      }
      return;
    }
    if (!p.baseUrl && p.type !== "clever") {
      ctx.addIssue({ code: "custom", path: ["baseUrl"], message: `is required for type ${p.type}` });
    }
    if (!p.auth) {
      ctx.addIssue({ code: "custom", path: ["auth"], message: `is required for type ${p.type}` });
    }
    if (p.type === "classlink" && p.auth && p.auth.method !== "oauth1") {
      ctx.addIssue({ code: "custom", path: ["auth", "method"], message: "classlink uses oauth1" });
    }
    if (p.type === "classlink" && p.version !== "1.1") {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message:
          'classlink is OneRoster 1.1; for a OneRoster 1.2 server use type oneroster with version "1.2"',
      });
    }
    if (p.type === "clever" && p.auth && p.auth.method !== "bearer") {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "method"],
        message: "clever uses bearer (a district token)",
      });
    }
  })
  // A bare origin gets the OneRoster base path here, once, so every consumer (connector, worker
  // pool, validate) sees the same URL.
  .transform((p) =>
    (p.type === "oneroster" || p.type === "classlink") && p.baseUrl
      ? { ...p, baseUrl: oneRosterBaseUrl(p.baseUrl, p.version) }
      : p,
  );
type ProviderInput = z.output<typeof providerInputSchema>;

/** A provider with its blocks filled: from `defaults` (the loader) or from the built-in defaults. */
export type ProviderConfig = Omit<ProviderInput, "rateLimit" | "retry"> & {
  name: string;
  rateLimit: RateLimitConfig;
  retry: RetryConfig;
};

/** One provider on its own, with no `defaults` above it (connectors' tests, tools). */
export const providerSchema = providerInputSchema.transform((p) => ({
  ...p,
  rateLimit: inherit(RATE_LIMIT_DEFAULTS, p.rateLimit),
  retry: inherit(RETRY_DEFAULTS, p.retry),
}));
