// The event sinks of `sync.config.yaml` (`events.sinks`, SPEC §5). Every field is documented here,
// once, with its default.
import { z } from "zod";
import { HOUR, MINUTE, SECOND } from "../util/time.js";
import { nonEmpty } from "./fields.js";

export const sinkSchema = z.discriminatedUnion("type", [
  z
    .object({
      /** BullMQ queue on redis.url; delivered by `worker`. */
      type: z.literal("queue"),
      /** Default roster-events. */
      name: nonEmpty.default("roster-events"),
    })
    .strict(),
  z
    .object({
      /** POST JSON with an HMAC-SHA256 signature header. */
      type: z.literal("webhook"),
      /** http:// or https:// only: any other scheme could never be delivered and would wait forever. */
      url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
      secret: nonEmpty,
      /** One request's timeout; a slower receiver counts as a failed attempt. Default 10 s. */
      timeoutMs: z
        .number()
        .int()
        .min(100)
        .default(10 * SECOND),
      /** Attempts of one event before its delivery is marked `failed`. Default 10 (with the default
       * backoff, about 4 to 9 minutes of failures for the first event of an outage, and 25 to 50
       * for each one after it). A failed event does not hold back later ones: the next event goes
       * (after the backoff), so order per mapping holds except around a failed event, which stays
       * `failed` in `roster-sync events` and in the metrics until it is redelivered (README "Event
       * sinks").
       * Timeouts, network errors, 408, 429, 5xx, 1xx/3xx, and the 4xx that would refuse every event
       * alike (401, 403, 404, 405, 407, 410, 421: a wrong secret or URL) are retried; any other 4xx
       * refuses that event, which fails at its first attempt. */
      maxAttempts: z.number().int().min(1).max(1000).default(10),
      /** Backoff after the first failed attempt; doubles with each consecutive failure of the sink,
       * half of it random ("equal jitter"). Default 1 s. */
      retryDelayMs: z.number().int().min(1).default(SECOND),
      /** Upper bound of that backoff. Default 5 min. */
      maxRetryDelayMs: z
        .number()
        .int()
        .min(1)
        .default(5 * MINUTE),
      /** Upper bound of an honoured Retry-After (a longer one waits this long). Default 1 h. */
      maxRetryAfterMs: z.number().int().min(0).default(HOUR),
      /** Delivered events are recorded after at most this many, so that a process killed mid-delivery
       * sends at most this many events again. Default 5. */
      saveProgressEvery: z.number().int().min(1).max(1000).default(5),
      /** …or after this long, whichever comes first. Default 1 s. */
      saveProgressMs: z.number().int().min(0).default(SECOND),
    })
    .strict()
    .refine((s) => s.maxRetryDelayMs >= s.retryDelayMs, {
      path: ["maxRetryDelayMs"],
      message: "must be at least retryDelayMs",
    }),
  z
    .object({
      /** NDJSON, one event per line, appended. */
      type: z.literal("file"),
      path: nonEmpty,
    })
    .strict(),
]);
export type SinkConfig = z.infer<typeof sinkSchema>;
