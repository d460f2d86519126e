// A stored outbox row → the event as sinks and `events --json` show it (SPEC §5), keys in the
// documented order.
import type { StoredEvent } from "../store/index.js";
import type { RosterEvent } from "../sync/events.js";

export function toRosterEvent(row: StoredEvent): RosterEvent {
  return {
    id: row.id,
    type: row.type,
    mapping: row.mapping,
    product: row.product,
    runId: row.runId,
    occurredAt: row.occurredAt.toISOString(),
    user: row.user as RosterEvent["user"],
  };
}
