// Settings of `roster-sync worker` (the `worker` block of `sync.config.yaml`). Every field is
// documented here, once, with its default.
import { z } from "zod";
import { SECOND } from "../util/time.js";

export const workerSchema = z
  .object({
    /** Sync jobs one worker process runs at once (different mappings; a mapping never runs twice at once). Default 4. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** BullMQ job lock. A worker that dies holding a job loses it after this long, and another worker
     * takes the job up again (after the next stalled check). Default 30 s. */
    lockDurationMs: z
      .number()
      .int()
      .min(1000)
      .default(30 * SECOND),
    /** How often workers look for stalled jobs (held by a worker that died). Default 30 s. */
    stalledIntervalMs: z
      .number()
      .int()
      .min(500)
      .default(30 * SECOND),
    /** On SIGTERM/SIGINT, how long a running sync may take to finish before it is released to
     * another worker. Default 30 s. */
    shutdownGraceMs: z
      .number()
      .int()
      .min(0)
      .default(30 * SECOND),
    /** How often the outbox relay looks for pending events (it also runs after every commit). Default 1 s. */
    relayIntervalMs: z.number().int().min(50).default(SECOND),
    /** A sync job whose runs stopped their worker process this many times (it was killed or died
     * mid-run, e.g. out of memory, and the job was found stalled) is failed for good instead of being
     * run again: a `failed` history row says why, and the mapping's next trigger runs it afresh.
     * Scheduled jobs included (BullMQ itself never fails those for stalling). Default 2. */
    maxStalledCount: z.number().int().min(1).max(100).default(2),
  })
  .strict();
export type WorkerConfig = z.infer<typeof workerSchema>;
