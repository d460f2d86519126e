// The outbox relay for the sinks `sync` delivers itself (file; webhook and queue come with the
// worker). Pending events go out in outbox order, in batches, each batch marked delivered only
// after the sink confirmed it.
import type { SinkConfig } from "../config/schema.js";
import type { Logger } from "../log.js";
import type { Database } from "../store/db.js";
import { getSinkPosition, markDelivered, pendingDeliveries, recordAttempt } from "../store/index.js";
import { toRosterEvent } from "./format.js";
import { appendEvents, fileSinkName } from "./sinks/file.js";

const BATCH = 1000;
/** Upper bound of batches per relay call, so that a sink that never empties cannot loop forever. */
const MAX_BATCHES = 10_000;

/** The outbox name of a sink: what delivery rows are keyed by. */
export function sinkName(sink: SinkConfig): string {
  switch (sink.type) {
    case "file":
      return fileSinkName(sink.path);
    case "webhook":
      return `webhook:${new URL(sink.url).origin}${new URL(sink.url).pathname}`;
    case "queue":
      return `queue:${sink.name}`;
  }
}

export interface RelayResult {
  sink: string;
  delivered: number;
  error?: string;
}

/** Delivers every pending event of a file sink. Failures are recorded and reported, not thrown. */
export async function relayFile(
  db: Database,
  sink: Extract<SinkConfig, { type: "file" }>,
  logger: Logger,
): Promise<RelayResult> {
  const name = sinkName(sink);
  let delivered = 0;
  for (let i = 0; i < MAX_BATCHES; i += 1) {
    const batch = await pendingDeliveries(db, name, BATCH);
    if (batch.length === 0) {
      break;
    }
    const events = batch.map(toRosterEvent);
    try {
      const position = await getSinkPosition(db, name);
      const result = await appendEvents(sink.path, events, position);
      await markDelivered(
        db,
        name,
        events.map((e) => e.id),
        { position: result.position },
      );
      delivered += events.length;
    } catch (error) {
      const message = (error as Error).message;
      await recordAttempt(
        db,
        name,
        events.map((e) => e.id),
        message,
      );
      logger.error({ sink: name, err: { message } }, "event delivery failed; events stay pending");
      return { sink: name, delivered, error: message };
    }
  }
  if (delivered > 0) {
    logger.info({ sink: name, delivered }, "events delivered");
  }
  return { sink: name, delivered };
}
