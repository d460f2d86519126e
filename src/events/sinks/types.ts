import type { RosterEvent } from "../../sync/events.js";

/** A destination for events. `deliver` either delivers the whole batch (in order) or throws. */
export interface Sink {
  /** Stable identity of the sink in the outbox, e.g. `file:./data/events.ndjson`. */
  readonly name: string;
  deliver(events: RosterEvent[]): Promise<void>;
  close?(): Promise<void>;
}
