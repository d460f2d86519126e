// Opens the database named by `database.url`: `file:PATH` is an embedded PostgreSQL (PGlite) in that
// folder, `postgresql://…` a server (SPEC §7). Either way the caller gets a Prisma client on PostgreSQL
// semantics with the migrations applied. The embedded folder belongs to one process at a time, which
// a lock file in the folder enforces; a PostgreSQL server is shared freely.

import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { PGlite, type Transaction as PGliteTransaction } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";

import { DatabaseError, DatabaseLockedError, safeUrl } from "../errors.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { applyMigrations, type MigrationConnection } from "./migrate.js";

export type DatabaseKind = "pglite" | "postgres";

export interface Database {
  prisma: PrismaClient;
  kind: DatabaseKind;
  /** The driver under Prisma, for the few set-based bulk statements (see DriverSql). */
  driver: Driver;
  /** The URL as fit for logs: no credentials. */
  url: string;
  /** Disconnects, and for PGlite closes the folder and releases its lock. Safe to call twice. */
  close(): Promise<void>;
}

/** What the persistence operations need: a Database, or `{ prisma }` around a bare client. */
export type StoreDb = Pick<Database, "prisma"> & Partial<Pick<Database, "driver">>;

/**
 * Statements run on the driver itself (pg or PGlite), bypassing Prisma's per-query overhead (about a
 * third of the time of a 100k-row bulk write went into Prisma's argument handling). Only for the
 * set-based bulk writes of a run (CONVENTIONS: Prisma for everything else).
 */
export interface DriverSql {
  /** One statement with `$1…` parameters; returns the number of rows it affected. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /** One statement with `$1…` parameters; returns its rows as objects. */
  query<T extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * PGlite only: `COPY … FROM '/dev/blob'` fed with `data` (COPY text format). About twice as fast as
   * the same rows through INSERT … SELECT there. Absent on PostgreSQL (COPY FROM STDIN needs an extra
   * package) and on Prisma.
   */
  copyFrom?(sql: string, data: string): Promise<number>;
}

export interface Driver {
  kind: DatabaseKind;
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: DriverSql) => Promise<T>): Promise<T>;
}

/** A transaction on the driver when the db has one, else a Prisma interactive transaction. */
export function driverTransaction<T>(db: StoreDb, fn: (tx: DriverSql) => Promise<T>): Promise<T> {
  if (db.driver) {
    return db.driver.transaction(fn);
  }
  return db.prisma.$transaction((tx) =>
    fn({
      execute: (sql, params = []) => tx.$executeRawUnsafe(sql, ...params),
      query: <T extends object>(sql: string, params: readonly unknown[] = []) =>
        tx.$queryRawUnsafe<T[]>(sql, ...params),
    }),
  );
}

export interface OpenDatabaseOptions {
  /** Who holds the embedded folder, shown to a second process, e.g. `"roster-sync worker"`. */
  owner: string;
  /** Default: prisma/migrations under the package root. */
  migrationsDir?: string;
  /** Told about each migration applied now. */
  onMigrationApplied?: (name: string) => void;
}

/** The lock file in an embedded database folder (SPEC §7). */
export const LOCK_FILE = "roster-sync.lock";

export interface LockHolder {
  pid: number;
  command: string;
  host: string;
  since: string;
}

// Bulk snapshot writes of 100k members take a few seconds; the default 5 s would cut them off.
const TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 10 * 60_000 };

/**
 * Opens `file:PATH` (PGlite, folder created if missing, PATH relative to the working directory) or
 * `postgresql://…` / `postgres://…`, applies pending migrations and returns the client.
 * Throws DatabaseLockedError when another live process holds the embedded folder, and
 * DatabaseError (never carrying a password) when the database cannot be opened or migrated.
 */
export async function openDatabase(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  if (/^file:/i.test(url)) {
    return openPGlite(url, filePath(url), opts);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    return openPostgres(url, opts);
  }
  throw new DatabaseError(
    `unsupported database url ${safeUrl(url)}: expected file:PATH (embedded) or postgresql://…`,
  );
}

/** The folder of a `file:` URL: `file:./data/x` and `file:data/x` relative to cwd, `file:///abs` absolute. */
export function filePath(url: string): string {
  if (/^file:\/\//i.test(url)) {
    return fileURLToPath(url);
  }
  return resolve(url.slice("file:".length));
}

async function openPGlite(url: string, dir: string, opts: OpenDatabaseOptions): Promise<Database> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DatabaseError(`cannot create the database folder ${dir} for ${url}`, { cause: error });
  }
  const release = acquireLock(dir, url, opts.owner);
  let client: PGlite | undefined;
  let prisma: PrismaClient | undefined;
  try {
    client = new PGlite(dir);
    await client.waitReady;
    const pglite = client;
    await applyMigrations(
      {
        query: async (sql, params) => (await pglite.query(sql, params)).rows as never,
        executeScript: async (script) => {
          await pglite.exec(script);
        },
      },
      { kind: "pglite", migrationsDir: opts.migrationsDir, onApplied: opts.onMigrationApplied },
    );
    prisma = new PrismaClient({ adapter: pgliteAdapter(pglite), transactionOptions: TRANSACTION_OPTIONS });
    await prisma.$connect();
  } catch (error) {
    await prisma?.$disconnect().catch(() => undefined);
    await client?.close().catch(() => undefined);
    release();
    throw error instanceof DatabaseError
      ? error
      : new DatabaseError(`cannot open database ${url}: ${message(error)}`, { cause: error });
  }
  const pglite = client;
  const connected = prisma;
  let closing: Promise<void> | undefined;
  return {
    prisma: connected,
    kind: "pglite",
    driver: pgliteDriver(pglite),
    url,
    close() {
      closing ??= (async () => {
        try {
          await connected.$disconnect();
          await pglite.close();
        } finally {
          release();
        }
      })();
      return closing;
    },
  };
}

/**
 * pglite-prisma-adapter 0.7.2's `executeScript` fires the script without awaiting it, so a failing
 * script (a migration run by Prisma's schema engine) is reported as a success. Await it.
 */
function pgliteAdapter(client: PGlite): PrismaPGlite {
  const factory = new PrismaPGlite(client);
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    const toDriverError = (adapter as unknown as { onError?: (error: unknown) => never }).onError?.bind(
      adapter,
    );
    adapter.executeScript = async (script: string) => {
      try {
        await client.exec(script);
      } catch (error) {
        if (toDriverError) {
          toDriverError(error);
        }
        throw error;
      }
    };
    return adapter;
  };
  return factory;
}

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  const shown = safeUrl(url);
  const fail = (error: unknown): DatabaseError =>
    error instanceof DatabaseError
      ? new DatabaseError(redact(error.message, url), { cause: error.cause })
      : new DatabaseError(`cannot open database ${shown}: ${redact(message(error), url)}`, {
          cause: error,
          retriable: true,
        });

  const migrator = new pg.Client({ connectionString: url });
  migrator.on("error", () => undefined);
  try {
    await migrator.connect();
    const conn: MigrationConnection = {
      query: async (sql, params) => (await migrator.query(sql, params)).rows,
      executeScript: async (script) => {
        await migrator.query(script);
      },
    };
    await applyMigrations(conn, {
      kind: "postgres",
      migrationsDir: opts.migrationsDir,
      onApplied: opts.onMigrationApplied,
    });
  } catch (error) {
    throw fail(error);
  } finally {
    await migrator.end().catch(() => undefined);
  }

  const pool = new pg.Pool({ connectionString: url });
  // An idle client dropped by the server must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: TRANSACTION_OPTIONS });
  try {
    await prisma.$connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw fail(error);
  }
  let closing: Promise<void> | undefined;
  return {
    prisma,
    kind: "postgres",
    driver: postgresDriver(pool),
    url: shown,
    close() {
      closing ??= (async () => {
        try {
          await prisma.$disconnect();
        } finally {
          await pool.end();
        }
      })();
      return closing;
    },
  };
}

/**
 * PGlite's own transaction: it holds PGlite's transaction lock, so Prisma's queries (which take the
 * same lock) wait for it and never interleave.
 */
function pgliteDriver(client: PGlite): Driver {
  const sql = (q: PGliteTransaction): DriverSql => ({
    execute: async (text, params) => (await q.query(text, params as unknown[])).affectedRows ?? 0,
    query: async <T extends object>(text: string, params?: readonly unknown[]) =>
      (await q.query<T>(text, params as unknown[])).rows,
    copyFrom: async (text, data) => (await q.query(text, [], { blob: new Blob([data]) })).affectedRows ?? 0,
  });
  return {
    kind: "pglite",
    transaction: (fn) => client.transaction((tx) => fn(sql(tx))),
  };
}

/** A client of Prisma's own pool, BEGIN … COMMIT on it; a client whose ROLLBACK failed is discarded. */
function postgresDriver(pool: pg.Pool): Driver {
  return {
    kind: "postgres",
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
      } catch (error) {
        client.release(error as Error);
        throw error;
      }
      let broken: Error | undefined;
      try {
        const result = await fn({
          execute: async (text, params) => (await client.query(text, params as unknown[])).rowCount ?? 0,
          query: async <T extends object>(text: string, params?: readonly unknown[]) =>
            (await client.query<T>(text, params as unknown[])).rows,
        });
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: unknown) => {
          broken = rollbackError as Error;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Removes a URL's password (and any URL's credentials) from a message. */
export function redact(text: string, url: string): string {
  let out = text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (found) => safeUrl(found));
  try {
    const password = new URL(url).password;
    if (password) {
      for (const form of new Set([password, decodeURIComponent(password)])) {
        out = out.split(form).join("***");
      }
    }
  } catch {
    // not a URL: nothing to strip beyond the above
  }
  return out;
}
