// A mapping of `sync.config.yaml` (SPEC §2): which users of which groups get which product, and
// the safety guard of its runs. Every field is documented here, once, with its default.
import { z } from "zod";
import { matchFields, nonEmpty } from "./fields.js";
import type { Filled } from "./inherit.js";
import { scheduleSchema } from "./schedule.js";

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
