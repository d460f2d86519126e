// The embedded database: PGlite (PostgreSQL compiled to wasm) in a folder, behind Prisma. Loaded
// only for a `file:` URL, so a process on a PostgreSQL server never pays for PGlite's code.
import { mkdirSync } from "node:fs";

import { PGlite, type Transaction as PGliteTransaction } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";

import { DatabaseError } from "../errors.js";
import { PrismaClient } from "../generated/prisma/client.js";
import {
  errorMessage,
  TRANSACTION_OPTIONS,
  type Database,
  type Driver,
  type DriverSql,
  type OpenDatabaseOptions,
} from "./driver.js";
import { acquireLock } from "./lock-file.js";
import { applyMigrations } from "./migrate.js";

/** Opens the folder `dir` of `url` (created if missing) under its lock file, migrated. */
export async function openPGlite(url: string, dir: string, opts: OpenDatabaseOptions): Promise<Database> {
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
      : new DatabaseError(`cannot open database ${url}: ${errorMessage(error)}`, { cause: error });
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
