// Schedules of mappings: a cron string or a fixed interval, and the durations that write it.
import { z } from "zod";
import { SECOND } from "../util/time.js";
import { cronProblem } from "./cron.js";

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
