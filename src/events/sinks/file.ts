// The `file` sink: NDJSON, one event per line, appended. Delivery is exactly once per event even
// when the process dies between writing the file and marking the events delivered: the sink keeps
// the file's length after its last confirmed batch (SinkState.position) and, before appending,
// reads what lies past it; ids already there are not written again, and a torn last line is cut.
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import { SinkError } from "../../errors.js";
import type { RosterEvent } from "../../sync/events.js";

export interface FileAppendResult {
  /** File length after the append: stored with the delivery marks. */
  position: bigint;
  written: number;
  skipped: number;
}

/** `./data/x.ndjson`, `data/x.ndjson` and `data//x.ndjson` are one sink: spelling must not strand events. */
export function fileSinkName(filePath: string): string {
  return `file:${path.normalize(filePath)}`;
}

/** Appends the events not already past `position`, fsyncs, and returns the new position. */
export async function appendEvents(
  filePath: string,
  events: RosterEvent[],
  position: bigint,
): Promise<FileAppendResult> {
  try {
    await mkdir(path.dirname(path.resolve(filePath)), { recursive: true });
    const handle = await open(filePath, "a+");
    try {
      let size = BigInt((await handle.stat()).size);
      // A file shorter than our position was rotated or truncated by someone else: start over.
      const from = size < position ? 0n : position;
      const already = new Set<string>();
      if (size > from) {
        const length = Number(size - from);
        const buffer = Buffer.alloc(length);
        await handle.read(buffer, 0, length, Number(from));
        const text = buffer.toString("utf8");
        const complete = text.lastIndexOf("\n") + 1;
        for (const line of text.slice(0, complete).split("\n")) {
          const id = /^\{"id":"([^"]+)"/.exec(line)?.[1];
          if (id) {
            already.add(id);
          }
        }
        if (complete < length) {
          // A line torn by a crash mid-write: drop it, its event is written again below.
          await handle.truncate(Number(from) + Buffer.byteLength(text.slice(0, complete)));
          size = BigInt((await handle.stat()).size);
        }
      }
      const fresh = events.filter((e) => !already.has(e.id));
      if (fresh.length > 0) {
        await handle.appendFile(fresh.map((e) => `${JSON.stringify(e)}\n`).join(""));
        await handle.sync();
        size = BigInt((await handle.stat()).size);
      }
      return { position: size, written: fresh.length, skipped: events.length - fresh.length };
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new SinkError(`file sink ${filePath}: ${(error as Error).message}`, fileSinkName(filePath), {
      cause: error,
    });
  }
}
