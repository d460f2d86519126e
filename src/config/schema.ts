// The shape of `sync.config.yaml` (SPEC §2). Every field is documented here, once, with its default;
// the README links here. Parsing happens once, in parseConfig; nothing downstream reads the raw YAML.
import { z } from "zod";
import { cronProblem, isTimeZone } from "./cron.js";
import type { ConfigWarning } from "./secrets.js";

const SECOND = 1000;
const MIB = 2 ** 20;

const nonEmpty = z.string().trim().min(1, "must not be empty");

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

// Blocks that inherit field by field. A field left out of a provider's `rateLimit` / `retry` or a
// mapping's `safety` takes the value of the level above (`defaults.rateLimit` / `defaults.retry` /
// `defaults.safety`), then the built-in default below. These schemas therefore have no inner
// defaults (zod's `.partial()` would keep them and skip the level in between, issue 9 item 1): the
// loader merges the levels (`inherit`). Each default is stated once, in the *_DEFAULTS
// object under its schema.

/** Fills every optional field: the shape of a block once its levels are merged. */
export type Filled<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** Merges the levels of a block field by field, nearest last: a field a level leaves out is the
 * level above's. */
export function inherit<T extends object>(builtIn: T, ...levels: (Partial<T> | undefined)[]): T {
  const merged = { ...builtIn } as Record<string, unknown>;
  for (const level of levels) {
    for (const [key, value] of Object.entries(level ?? {})) {
      if (value !== undefined) {
        merged[key] = value;
      }
    }
  }
  return merged as T;
}

export const rateLimitSchema = z
  .object({
    /** Token bucket shared by every request to this provider. Default 10. */
    requestsPerSecond: z.number().positive().max(10_000).optional(),
    /** Requests in flight at once (p-limit). Default 4. */
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

const matchFields = z.array(nonEmpty).min(1);

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

const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const durationUnits: Record<string, number> = {
  ms: 1,
  s: SECOND,
  m: 60 * SECOND,
  h: 3600 * SECOND,
  d: 86400 * SECOND,
};

/** `15m`, `30s`, `2h`, `1d`, `500ms` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = durationPattern.exec(text.trim());
  if (!m) {
    return undefined;
  }
  return Number(m[1]) * (durationUnits[m[2]!] ?? 1);
}

/** A cron string (5 fields, or 6 with leading seconds) or `{ every: 15m }`. A cron string is parsed
 * here as the worker will parse it (config/cron.ts), in UTC; the loader checks it again in
 * `defaults.timezone`. */
export const scheduleSchema = z.union([
  z
    .string()
    .trim()
    .superRefine((s, ctx) => {
      const problem = cronProblem(s, "UTC");
      if (problem) {
        ctx.addIssue({ code: "custom", message: `${problem} (or use { every: 15m })` });
      }
    }),
  z
    .object({
      /** A fixed interval: `30s`, `15m`, `1h`. At least 1 s. */
      every: z
        .string()
        .refine((s) => (parseDuration(s) ?? 0) >= SECOND, "must be a duration such as 30s, 15m or 1h"),
    })
    .strict(),
]);

/** The safety guard (SPEC §5.3). A mapping's block inherits field by field from `defaults.safety`. */
export const safetySchema = z
  .object({
    /** Hold the run when it would remove more members than this. Default 50. */
    maxRemovals: z.number().int().min(0).optional(),
    /** Hold the run when it would remove more than this percentage of the previous snapshot. Default 20. */
    maxRemovalPercent: z.number().min(0).max(100).optional(),
  })
  .strict();
export type SafetyConfig = Filled<z.infer<typeof safetySchema>>;
export const SAFETY_DEFAULTS = { maxRemovals: 50, maxRemovalPercent: 20 } satisfies SafetyConfig;

export const groupSchema = z
  .object({
    /** classes | courses | schools. */
    type: z.enum(["classes", "courses", "schools"]),
    /** Compared with each field in matchOn, trimmed and ignoring case. */
    match: z.union([nonEmpty, z.number().transform(String)]),
    /** Fields of the group compared with `match`. Default: the provider's matchGroupsBy. */
    matchOn: matchFields.optional(),
  })
  .strict();
export type GroupConfig = z.infer<typeof groupSchema>;

export const mappingSchema = z
  .object({
    /** Unique; used in history, events and the CLI. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be letters, digits, '.', '_' or '-'")
      .max(100),
    /** A key of `providers`. */
    provider: nonEmpty,
    /** students | teachers | users (every role; only without groups). */
    users: z.enum(["students", "teachers", "users"]),
    /** Omitted: every user of that kind in the provider. */
    groups: z.array(groupSchema).min(1).optional(),
    /** Attribute filter: each key a user field, a user passes when any value matches (ignoring case). */
    include: z
      .record(z.string(), z.array(z.union([z.string(), z.number().transform(String)])).min(1))
      .optional(),
    /** What downstream grants: a string or a list, copied into every event. */
    product: z.union([nonEmpty, z.array(nonEmpty).min(1)]),
    /** Cron (5 or 6 fields) or { every: 15m }. Default: defaults.schedule. */
    schedule: scheduleSchema.optional(),
    /** Each field: this block, else `defaults.safety`, else SAFETY_DEFAULTS. */
    safety: safetySchema.optional(),
  })
  .strict();

export const sinkSchema = z.discriminatedUnion("type", [
  z
    .object({
      /** BullMQ queue on redis.url; delivered by `worker`. */
      type: z.literal("queue"),
      /** Default roster-events. */
      name: nonEmpty.default("roster-events"),
    })
    .strict(),
  z
    .object({
      /** POST JSON with an HMAC-SHA256 signature header. */
      type: z.literal("webhook"),
      /** http:// or https:// only: any other scheme could never be delivered and would wait forever. */
      url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
      secret: nonEmpty,
      /** One request's timeout; a slower receiver counts as a failed attempt. Default 10 s. */
      timeoutMs: z
        .number()
        .int()
        .min(100)
        .default(10 * SECOND),
      /** Attempts of one event before its delivery is marked `failed`. Default 10 (with the default
       * backoff, about 4 to 9 minutes of failures for the first event of an outage, and 25 to 50
       * for each one after it). A failed event does not hold back later ones: the next event goes
       * (after the backoff), so order per mapping holds except around a failed event, which stays
       * `failed` in `roster-sync events` and in the metrics until it is redelivered (README "Event
       * sinks").
       * Timeouts, network errors, 408, 429, 5xx, 1xx/3xx, and the 4xx that would refuse every event
       * alike (401, 403, 404, 405, 407, 410, 421: a wrong secret or URL) are retried; any other 4xx
       * refuses that event, which fails at its first attempt. */
      maxAttempts: z.number().int().min(1).max(1000).default(10),
      /** Backoff after the first failed attempt; doubles with each consecutive failure of the sink,
       * half of it random ("equal jitter"). Default 1 s. */
      retryDelayMs: z.number().int().min(1).default(SECOND),
      /** Upper bound of that backoff. Default 5 min. */
      maxRetryDelayMs: z
        .number()
        .int()
        .min(1)
        .default(5 * 60 * SECOND),
      /** Upper bound of an honoured Retry-After (a longer one waits this long). Default 1 h. */
      maxRetryAfterMs: z
        .number()
        .int()
        .min(0)
        .default(3600 * SECOND),
      /** Delivered events are recorded after at most this many, so that a process killed mid-delivery
       * sends at most this many events again. Default 5. */
      saveProgressEvery: z.number().int().min(1).max(1000).default(5),
      /** …or after this long, whichever comes first. Default 1 s. */
      saveProgressMs: z.number().int().min(0).default(SECOND),
    })
    .strict()
    .refine((s) => s.maxRetryDelayMs >= s.retryDelayMs, {
      path: ["maxRetryDelayMs"],
      message: "must be at least retryDelayMs",
    }),
  z
    .object({
      /** NDJSON, one event per line, appended. */
      type: z.literal("file"),
      path: nonEmpty,
    })
    .strict(),
]);
export type SinkConfig = z.infer<typeof sinkSchema>;

export const workerSchema = z
  .object({
    /** Sync jobs one worker process runs at once (different mappings; a mapping never runs twice at once). Default 4. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** BullMQ job lock. A worker that dies holding a job loses it after this long, and another worker
     * takes the job up again (after the next stalled check). Default 30 s. */
    lockDurationMs: z
      .number()
      .int()
      .min(1000)
      .default(30 * SECOND),
    /** How often workers look for stalled jobs (held by a worker that died). Default 30 s. */
    stalledIntervalMs: z
      .number()
      .int()
      .min(500)
      .default(30 * SECOND),
    /** On SIGTERM/SIGINT, how long a running sync may take to finish before it is released to
     * another worker. Default 30 s. */
    shutdownGraceMs: z
      .number()
      .int()
      .min(0)
      .default(30 * SECOND),
    /** How often the outbox relay looks for pending events (it also runs after every commit). Default 1 s. */
    relayIntervalMs: z.number().int().min(50).default(SECOND),
    /** A sync job whose runs stopped their worker process this many times (it was killed or died
     * mid-run, e.g. out of memory, and the job was found stalled) is failed for good instead of being
     * run again: a `failed` history row says why, and the mapping's next trigger runs it afresh.
     * Scheduled jobs included (BullMQ itself never fails those for stalling). Default 2. */
    maxStalledCount: z.number().int().min(1).max(100).default(2),
  })
  .strict();
export type WorkerConfig = z.infer<typeof workerSchema>;

export const configSchema = z
  .object({
    database: z
      .object({
        /** `file:PATH` (embedded PGlite, default file:./data/roster-sync) or `postgresql://…`. */
        url: z
          .string()
          .default("file:./data/roster-sync")
          .refine((u) => /^(file:.+|postgres(ql)?:\/\/.+)$/.test(u), "must be file:PATH or postgresql://…"),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        /** Needed by `worker` only. Default redis://127.0.0.1:6379. */
        url: z.string().default("redis://127.0.0.1:6379"),
        /** Queue key prefix; braces keep a queue in one Redis Cluster slot. Default {roster-sync}. */
        prefix: z.string().default("{roster-sync}"),
      })
      .strict()
      .prefault({}),
    providers: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/), providerInputSchema),
    mappings: z.array(mappingSchema).min(1),
    /** The level between each mapping or provider and the built-in defaults. A block here
     * inherits field by field from the built-in one, and a mapping's or provider's block from this
     * one: `defaults.safety: { maxRemovalPercent: 5 }` with a mapping's `safety: { maxRemovals: 10 }`
     * guards that mapping at 10 removals and 5%. */
    defaults: z
      .object({
        /** Schedule of a mapping without one. Default "0 2 * * *". */
        schedule: scheduleSchema.default("0 2 * * *"),
        /** IANA zone of every cron schedule, e.g. Europe/Paris. Default UTC. */
        timezone: z
          .string()
          .trim()
          .refine(isTimeZone, {
            error: (issue) =>
              `unknown time zone "${String(issue.input)}": must be an IANA zone such as UTC or America/New_York`,
          })
          .default("UTC"),
        /** Safety guard of a mapping without its own (see safetySchema). */
        safety: safetySchema.optional(),
        /** Rate limit of each provider without its own: each provider still has its own budget
         * (a vendor's many districts, one `rateLimit` written once). */
        rateLimit: rateLimitSchema.optional(),
        /** Retry policy of each provider without its own. */
        retry: retrySchema.optional(),
      })
      .strict()
      .prefault({}),
    events: z
      .object({
        sinks: z.array(sinkSchema).default([]),
      })
      .strict()
      .prefault({}),
    /** Settings of `roster-sync worker`; every key optional (nothing sits between this block and its
     * built-in defaults, so they are the schema's own). */
    worker: workerSchema.prefault({}),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;

/** A mapping with its defaults applied and its provider resolved. */
export interface MappingConfig {
  name: string;
  provider: ProviderConfig;
  users: "students" | "teachers" | "users";
  groups: { type: GroupConfig["type"]; match: string; matchOn: string[] }[] | undefined;
  include: Record<string, string[]> | undefined;
  product: string | string[];
  schedule: string | { every: string };
  safety: SafetyConfig;
}

export interface Config {
  file: string;
  database: { url: string };
  redis: { url: string; prefix: string };
  timezone: string;
  providers: Record<string, ProviderConfig>;
  mappings: MappingConfig[];
  sinks: SinkConfig[];
  worker: WorkerConfig;
  /** Usable but unwise (a secret written in the file): for commands to log, `validate` to print. */
  warnings: ConfigWarning[];
}
