// `history`, `events` and `members`: read-only views of the database.
import { UsageError } from "../errors.js";
import { toRosterEvent } from "../events/format.js";
import { listEvents, listMembers, listRuns, type RunRow } from "../store/index.js";
import { eventUser } from "../sync/member.js";
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

function checkMapping(ctx: CommandContext, mapping: string | undefined): void {
  if (mapping !== undefined && !ctx.config.mappings.some((m) => m.name === mapping)) {
    // Runs of a mapping removed from the config stay readable: warn, do not refuse.
    ctx.logger.warn({ mapping }, "mapping is not in the current config");
  }
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
  checkMapping(ctx, options.mapping);
  const limit = positiveInt(options.limit, "--limit", 20);
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
  checkMapping(ctx, options.mapping);
  if (options.type !== undefined && !EVENT_TYPES.includes(options.type as (typeof EVENT_TYPES)[number])) {
    throw new UsageError(`--type must be one of ${EVENT_TYPES.join(", ")}, not "${options.type}"`);
  }
  const limit = positiveInt(options.limit, "--limit", 1000);
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
  checkMapping(ctx, options.mapping);
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
