// The shape of `sync.config.yaml` (SPEC §2): the top-level blocks here, each provider, mapping,
// sink and worker block in its own file (provider.ts, mapping.ts, schedule.ts, sinks.ts, worker.ts).
// Every field is documented once, where it is defined, with its default; the README links there.
// Parsing happens once, in parseConfig; nothing downstream reads the raw YAML. Importers take
// everything from here.
import { z } from "zod";
import { isTimeZone } from "./cron.js";
import { mappingSchema, safetySchema, type GroupConfig, type SafetyConfig } from "./mapping.js";
import { providerInputSchema, rateLimitSchema, retrySchema, type ProviderConfig } from "./provider.js";
import { scheduleSchema } from "./schedule.js";
import type { ConfigWarning } from "./secrets.js";
import { sinkSchema, type SinkConfig } from "./sinks.js";
import { workerSchema, type WorkerConfig } from "./worker.js";

export * from "./inherit.js";
export * from "./mapping.js";
export * from "./provider.js";
export * from "./schedule.js";
export * from "./sinks.js";
export * from "./worker.js";

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
        /** Safety guard of a mapping without its own (see safetySchema, mapping.ts). */
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
