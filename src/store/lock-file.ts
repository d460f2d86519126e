// The lock file of an embedded database folder (SPEC §7): the folder belongs to one process at a
// time, and a second process is told who holds it.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { DatabaseError, DatabaseLockedError } from "../errors.js";

/** The lock file in an embedded database folder (SPEC §7). */
export const LOCK_FILE = "roster-sync.lock";

export interface LockHolder {
  pid: number;
  command: string;
  host: string;
  since: string;
}

/**
 * Takes the folder's lock file (created with O_EXCL, so two processes cannot both create it) or throws
 * DatabaseLockedError naming the live holder. A lock left by a process that is gone (dead pid on this
 * host) is taken over. Returns the release function, also run at process exit.
 */
export function acquireLock(dir: string, url: string, owner: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    command: owner,
    host: hostname(),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new DatabaseError(`cannot create the lock file ${path} for ${url}`, { cause: error });
      }
      const content = readLock(path);
      if (content === undefined) {
        continue; // removed meanwhile: try again
      }
      const holder = parseHolder(content.text);
      if (holder === undefined ? Date.now() - content.mtimeMs < 10_000 : isAlive(holder)) {
        const shown = holder ?? {
          pid: 0,
          command: "unknown process",
          host: "unknown host",
          since: "unknown",
        };
        throw new DatabaseLockedError(
          `database ${url} is in use by ${shown.command} (pid ${shown.pid} on ${shown.host}, since ${shown.since}); ` +
            `stop it or use another database`,
          shown,
        );
      }
      // Stale: remove it unless someone took it over since we read it, then race for it again.
      if (readLock(path)?.text === content.text) {
        try {
          unlinkSync(path);
        } catch {
          // another process removed it first
        }
      }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = (): void => {
      if (released) {
        return;
      }
      released = true;
      process.removeListener("exit", release);
      if (parseHolder(readLock(path)?.text ?? "")?.pid === process.pid) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
    };
    process.on("exit", release);
    return release;
  }
  throw new DatabaseError(`cannot take the lock file ${path} for ${url}: it keeps changing`);
}

function readLock(path: string): { text: string; mtimeMs: number } | undefined {
  try {
    return { mtimeMs: statSync(path).mtimeMs, text: readFileSync(path, "utf8") };
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === "number" && typeof value.host === "string") {
      return {
        pid: value.pid,
        host: value.host,
        command: typeof value.command === "string" ? value.command : "unknown process",
        since: typeof value.since === "string" ? value.since : "unknown",
      };
    }
  } catch {
    // a lock being written right now, or garbage
  }
  return undefined;
}

/** A holder on another host cannot be checked, so it counts as alive. */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) {
    return true;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
