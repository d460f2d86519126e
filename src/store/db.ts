// Opens the database named by `database.url`: `file:PATH` is an embedded PostgreSQL (PGlite, in
// pglite.ts) in that folder, `postgresql://…` a server (SPEC §7). Either way the caller gets a Prisma
// client on PostgreSQL semantics with the migrations applied. The embedded folder belongs to one
// process at a time, which a lock file in the folder enforces (lock-file.ts); a server is shared.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

import { DatabaseError, safeUrl } from "../errors.js";
import { PrismaClient } from "../generated/prisma/client.js";
import {
  errorMessage,
  TRANSACTION_OPTIONS,
  type Database,
  type Driver,
  type OpenDatabaseOptions,
} from "./driver.js";
import { applyMigrations, type MigrationConnection } from "./migrate.js";

export {
  driverTransaction,
  type Database,
  type DatabaseKind,
  type Driver,
  type DriverSql,
  type OpenDatabaseOptions,
  type StoreDb,
} from "./driver.js";
export { LOCK_FILE, type LockHolder } from "./lock-file.js";

/**
 * Opens `file:PATH` (PGlite, folder created if missing, PATH relative to the working directory) or
 * `postgresql://…` / `postgres://…`, applies pending migrations and returns the client.
 * Throws DatabaseLockedError when another live process holds the embedded folder, and
 * DatabaseError (never carrying a password) when the database cannot be opened or migrated.
 */
export async function openDatabase(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  if (/^file:/i.test(url)) {
    // PGlite's code (about 8 MB of a worker's RSS) is loaded only when it is used.
    const { openPGlite } = await import("./pglite.js");
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

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  const shown = safeUrl(url);
  const fail = (error: unknown): DatabaseError =>
    error instanceof DatabaseError
      ? new DatabaseError(redact(error.message, url), { cause: error.cause })
      : new DatabaseError(`cannot open database ${shown}: ${redact(errorMessage(error), url)}`, {
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
