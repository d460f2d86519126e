// `history`, `events` and `members`: read-only views of the database.
import { UsageError } from "../errors.js";
import { toRosterEvent } from "../events/format.js";
import { getRun, listEvents, listMembers, listRuns, type RunRow } from "../store/index.js";
import { eventUser } from "../domain.js";
import { runSummary } from "../sync/run.js";
import type { CommandContext } from "./context.js";
import { json, table } from "./output.js";

function runView(r: RunRow) {
  return {
    ...runSummary(r),
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    trigger: r.trigger,
  };
}

/**
 * `--mapping` must name a configured mapping, or one removed from the config whose runs are still
 * stored (its history stays readable after the mapping is gone). Anything else is a typo, and a typo
 * must not print an empty list that reads as "nothing happened" (SPEC §6: exit 2).
 */
async function checkMapping(ctx: CommandContext, mapping: string | undefined): Promise<void> {
  if (mapping === undefined || ctx.config.mappings.some((m) => m.name === mapping)) {
    return;
  }
  const stored = await listRuns(await ctx.database(), { mapping, limit: 1 });
  if (stored.length > 0) {
    ctx.logger.warn({ mapping }, "mapping is not in the config (removed?): showing what is stored of it");
    return;
  }
  throw new UsageError(
    `unknown mapping "${mapping}" (configured: ${ctx.config.mappings.map((m) => m.name).join(", ")}; ` +
      "a mapping removed from the config stays readable while runs of it are stored, and none are)",
  );
}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${flag} must be a positive whole number, not "${value}"`);
  }
  return n;
}

export async function historyCommand(
  ctx: CommandContext,
  options: { mapping?: string; limit?: string },
  out: (text: string) => void,
): Promise<number> {
  const limit = positiveInt(options.limit, "--limit", 20);
  await checkMapping(ctx, options.mapping);
  const runs = (await listRuns(await ctx.database(), { mapping: options.mapping, limit })).map(runView);
  if (ctx.json) {
    out(json({ runs }));
  } else {
    out(
      table(runs, [
        "startedAt",
        "mapping",
        "status",
        "members",
        "added",
        "removed",
        "updated",
        "requests",
        "durationMs",
        "trigger",
        "runId",
        "error",
      ]),
    );
  }
  return 0;
}

const EVENT_TYPES = ["add", "remove", "update"] as const;

/** `sink=state`, plus the attempts so far of a delivery that is retrying or failed. */
function deliveryText(d: { sink: string; state: string; attempts: number }): string {
  const attempts = d.state !== "delivered" && d.attempts > 0 ? `(${d.attempts} attempts)` : "";
  return `${d.sink}=${d.state}${attempts}`;
}

export async function eventsCommand(
  ctx: CommandContext,
  options: { run?: string; mapping?: string; type?: string; limit?: string },
  out: (text: string) => void,
): Promise<number> {
  if (options.type !== undefined && !EVENT_TYPES.includes(options.type as (typeof EVENT_TYPES)[number])) {
    throw new UsageError(`--type must be one of ${EVENT_TYPES.join(", ")}, not "${options.type}"`);
  }
  const limit = positiveInt(options.limit, "--limit", 1000);
  await checkMapping(ctx, options.mapping);
  // An unknown run id is a typo, not a run without events: say so rather than print nothing.
  if (options.run !== undefined && !(await getRun(await ctx.database(), options.run))) {
    throw new UsageError(`unknown run "${options.run}" (\`roster-sync history\` lists the runs)`);
  }
  const rows = await listEvents(await ctx.database(), {
    runId: options.run,
    mapping: options.mapping,
    type: options.type as (typeof EVENT_TYPES)[number] | undefined,
    limit,
  });
  if (ctx.json) {
    out(json({ events: rows.map((row) => ({ ...toRosterEvent(row), deliveries: row.deliveries })) }));
  } else {
    out(
      table(
        rows.map((row) => {
          const e = toRosterEvent(row);
          return {
            occurredAt: e.occurredAt,
            type: e.type,
            mapping: e.mapping,
            user: e.user.sourcedId,
            username: e.user.username,
            delivery: row.deliveries.map(deliveryText).join(" "),
            id: e.id,
          };
        }),
        ["occurredAt", "type", "mapping", "user", "username", "delivery", "id"],
      ),
    );
  }
  return 0;
}

export async function membersCommand(
  ctx: CommandContext,
  options: { mapping: string },
  out: (text: string) => void,
): Promise<number> {
  await checkMapping(ctx, options.mapping);
  const members = (await listMembers(await ctx.database(), options.mapping)).map(eventUser);
  if (ctx.json) {
    out(json({ members }));
  } else {
    out(
      table(members, ["sourcedId", "role", "username", "email", "givenName", "familyName", "grades", "orgs"]),
    );
  }
  return 0;
}
