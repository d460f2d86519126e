// Cron schedules and time zones, checked with the parser that schedules them: BullMQ's
// getNextMillis (cron-parser underneath), the call src/worker/schedules.ts makes for every job
// scheduler. A field-by-field regex let through "99 99 99 99 99", "*/0 * * * *" and unknown zones,
// which the worker then silently never scheduled (issue 9 item 8). Pure apart from the clock
// passed in.
import { getNextMillis } from "bullmq";

/** True when the runtime (Intl, which cron-parser's time zone support relies on) knows the IANA zone. */
export function isTimeZone(zone: string): boolean {
  if (zone.trim() === "") {
    return false;
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Collapses runs of whitespace: the form handed to BullMQ and compared with a scheduler in Redis. */
export function normaliseCron(pattern: string): string {
  return pattern.trim().split(/\s+/).join(" ");
}

/**
 * Why `pattern` cannot be scheduled in `timezone`, or undefined when it can: 5 fields, or 6 with
 * leading seconds, accepted by cron-parser and with a next time after `now`.
 */
export function cronProblem(pattern: string, timezone: string, now = Date.now()): string | undefined {
  const fields = normaliseCron(pattern);
  const count = fields === "" ? 0 : fields.split(" ").length;
  if (count !== 5 && count !== 6) {
    return `"${fields}" has ${count} field(s); a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`;
  }
  if (!isTimeZone(timezone)) {
    return `unknown time zone "${timezone}"`;
  }
  let next: number | undefined;
  try {
    next = getNextMillis(now, { pattern: fields, tz: timezone });
  } catch (error) {
    return `"${fields}" is not a usable cron expression: ${(error as Error).message}`;
  }
  if (typeof next !== "number" || !Number.isFinite(next)) {
    return `"${fields}" never fires`;
  }
  return undefined;
}
