// One run per mapping, and one relay per sink, at a time across every worker and every
// `roster-sync sync` on the same database (SPEC §5.7).
//
// PostgreSQL: session-level advisory locks (`pg_try_advisory_lock`) held on ONE dedicated
// connection per worker process, outside Prisma's pool. The server releases them the moment that
// connection ends, so a worker killed with SIGKILL never blocks the worker that takes its stalled
// job up. A session may take the same advisory lock twice, so the process also keeps the names it
// holds and never asks the server for one it already has. Not for a transaction-mode pooler such
// as PgBouncer: session locks need a real session (point `database.url` past the pooler).
//
// Embedded PGlite (`file:`): the folder belongs to one process (SPEC §7), so an in-process set is
// the whole story.
//
// If the lock session dies while locks are held, each of them is lost: its lease's signal aborts,
// and the run holding it commits nothing (runMapping checks the signal before its commit).
import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { DatabaseError } from "../errors.js";
import type { Logger } from "../log.js";
import { HOUR, SECOND } from "../util/time.js";

export interface Lease {
  readonly name: string;
  /** Aborted when the lock is lost before `release` (the database session holding it ended). */
  readonly signal: AbortSignal;
  /** Gives the lock back. Safe to call twice; never throws. */
  release(): Promise<void>;
}

export interface Locks {
  readonly kind: "advisory" | "local";
  /** The lock when it is free; undefined when this or another worker holds it. Throws a retriable
   * DatabaseError when the database cannot be asked. */
  tryAcquire(name: string): Promise<Lease | undefined>;
  /** The names this process holds now. */
  held(): string[];
  /** Ends the lock session (the server releases whatever it still held). */
  close(): Promise<void>;
}

/** The lock of a mapping's runs (a worker's sync job, or `roster-sync sync`). */
export const mappingLock = (mapping: string): string => `mapping:${mapping}`;
/** The lock of a sink's relay (a worker's relay loop, or `roster-sync sync` for file and webhook sinks). */
export const sinkLock = (sink: string): string => `sink:${sink}`;

/**
 * Advisory locks for `postgresql://…`, an in-process set for `file:…`. `owner` is the lock
 * session's application_name, which shows in `pg_stat_activity` next to its locks.
 */
export function createLocks(databaseUrl: string, logger: Logger, owner = "roster-sync worker"): Locks {
  return /^postgres(ql)?:\/\//i.test(databaseUrl) ? advisoryLocks(databaseUrl, logger, owner) : localLocks();
}

export interface WaitOptions {
  /** Between attempts. Default 1 s. */
  pollMs?: number;
  /** Gives up after this long. Default 1 hour: longer than any run should take. */
  maxWaitMs?: number;
  /** Told once at the first refusal, then every `reportMs` (default 30 s), how long it has waited. */
  onWait?: (waitedMs: number) => void;
  reportMs?: number;
}

/**
 * The lock, waiting while another process holds it (SPEC §5.7: a second trigger waits or is
 * skipped; `roster-sync sync` waits). Throws a DatabaseError after `maxWaitMs`.
 */
export async function acquireWaiting(locks: Locks, name: string, options: WaitOptions = {}): Promise<Lease> {
  const pollMs = options.pollMs ?? SECOND;
  const maxWaitMs = options.maxWaitMs ?? HOUR;
  const reportMs = options.reportMs ?? 30 * SECOND;
  const start = Date.now();
  let reported = -Infinity;
  for (let attempt = 0; attempt <= Math.ceil(maxWaitMs / pollMs); attempt += 1) {
    const lease = await locks.tryAcquire(name);
    if (lease) {
      return lease;
    }
    const waited = Date.now() - start;
    if (waited >= maxWaitMs) {
      break;
    }
    if (waited - reported >= reportMs) {
      reported = waited;
      options.onWait?.(waited);
    }
    await delay(pollMs);
  }
  throw new DatabaseError(
    `gave up waiting for the lock on ${name} after ${Math.round((Date.now() - start) / SECOND)} s: another process holds it`,
  );
}

/** The 64-bit advisory lock key of a name, as a decimal string (a bigint parameter). */
export function lockKey(name: string): string {
  return createHash("sha256").update(`roster-sync:${name}`).digest().readBigInt64BE(0).toString();
}

export function localLocks(): Locks {
  const held = new Map<string, AbortController>();
  return {
    kind: "local",
    tryAcquire(name) {
      if (held.has(name)) {
        return Promise.resolve(undefined);
      }
      const controller = new AbortController();
      held.set(name, controller);
      return Promise.resolve({
        name,
        signal: controller.signal,
        release: async () => {
          if (held.get(name) === controller) {
            held.delete(name);
          }
        },
      });
    },
    held: () => [...held.keys()],
    close: async () => {
      held.clear();
    },
  };
}

interface Entry {
  controller: AbortController;
  /** The session that took it; undefined while the request is in flight. */
  session?: pg.Client;
  lost: boolean;
}

function advisoryLocks(url: string, logger: Logger, owner: string): Locks {
  const held = new Map<string, Entry>();
  let session: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;

  const lost = (client: pg.Client, why: string): void => {
    if (session === client) {
      session = undefined;
    }
    for (const [name, entry] of held) {
      if (entry.session === client && !entry.lost) {
        entry.lost = true;
        if (!closed) {
          logger.error({ lock: name, err: { message: why } }, "lock lost: its database session ended");
        }
        entry.controller.abort(new DatabaseError(`lost the lock on ${name}: ${why}`, { retriable: true }));
      }
    }
  };

  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: url,
      application_name: `${owner} locks`,
      keepAlive: true,
      connectionTimeoutMillis: 10 * SECOND,
      query_timeout: 10 * SECOND,
    });
    client.on("error", (error) => lost(client, error.message));
    client.on("end", () => lost(client, "connection closed"));
    await client.connect();
    return client;
  };

  const getSession = async (): Promise<pg.Client> => {
    if (session) {
      return session;
    }
    connecting ??= connect().finally(() => {
      connecting = undefined;
    });
    session = await connecting;
    return session;
  };

  const unlock = async (name: string, entry: Entry): Promise<void> => {
    const client = entry.session;
    if (!client || entry.lost || client !== session) {
      return; // the session is gone, and with it the lock
    }
    try {
      await client.query("SELECT pg_advisory_unlock($1::bigint)", [lockKey(name)]);
    } catch (error) {
      // Unsure whether the server still holds it: end the session, which releases it for sure.
      logger.warn({ lock: name, err: { message: (error as Error).message } }, "unlock failed: resetting");
      lost(client, "reset after a failed unlock");
      await client.end().catch(() => undefined);
    }
  };

  return {
    kind: "advisory",
    async tryAcquire(name) {
      if (closed || held.has(name)) {
        return undefined;
      }
      const entry: Entry = { controller: new AbortController(), lost: false };
      held.set(name, entry); // before any await: a second caller in this process sees it at once
      let ok = false;
      try {
        const client = await getSession();
        entry.session = client;
        const result = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS ok", [
          lockKey(name),
        ]);
        ok = result.rows[0]?.ok === true && !entry.lost;
      } catch (error) {
        held.delete(name);
        throw new DatabaseError(`cannot take the lock on ${name}: ${(error as Error).message}`, {
          retriable: true,
          cause: error,
        });
      }
      if (!ok) {
        held.delete(name);
        return undefined;
      }
      let released = false;
      return {
        name,
        signal: entry.controller.signal,
        release: async () => {
          if (released) {
            return;
          }
          released = true;
          if (held.get(name) === entry) {
            held.delete(name);
          }
          await unlock(name, entry);
        },
      };
    },
    held: () => [...held.keys()],
    async close() {
      closed = true;
      const client = session ?? (await connecting?.catch(() => undefined));
      session = undefined;
      if (client) {
        await client.end().catch(() => undefined);
      }
    },
  };
}
