// The events a diff implies (SPEC §5), as plain data. Pure: the run id and time are inputs.
import { eventId } from "../util/ids.js";
import type { Diff } from "./diff.js";
import { eventUser, type Member } from "../domain.js";

export type EventType = "add" | "remove" | "update";

/** An event as stored in the outbox and delivered to every sink. */
export interface RosterEvent {
  id: string;
  type: EventType;
  mapping: string;
  product: string | string[];
  runId: string;
  occurredAt: string;
  user: Omit<Member, "key">;
}

/** Adds, then updates, then removes; each sorted by member key (the diff's order). */
export function buildEvents(
  diff: Diff,
  context: { mapping: string; product: string | string[]; runId: string; occurredAt: Date },
): RosterEvent[] {
  const make = (type: EventType, member: Member): RosterEvent => ({
    id: eventId(context.runId, type, member.key),
    type,
    mapping: context.mapping,
    product: context.product,
    runId: context.runId,
    occurredAt: context.occurredAt.toISOString(),
    user: eventUser(member),
  });
  return [
    ...diff.added.map((m) => make("add", m)),
    ...diff.updated.map((u) => make("update", u.member)),
    ...diff.removed.map((m) => make("remove", m)),
  ];
}
