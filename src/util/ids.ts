// Identifiers: run ids sort by time (readable in SQL), event ids are derived from the run and the
// member so that the same run always yields the same ids (consumers de-duplicate on them).
import { createHash, randomBytes } from "node:crypto";

/** `run_` + 10 characters of milliseconds (base 36, sortable) + 8 random hex characters. */
export function newRunId(now: Date): string {
  return `run_${now.getTime().toString(36).padStart(10, "0")}${randomBytes(4).toString("hex")}`;
}

export function eventId(runId: string, type: string, key: string): string {
  return `evt_${createHash("sha256").update(`${runId}\u0000${type}\u0000${key}`).digest("hex").slice(0, 32)}`;
}
