// What a caller holds once a database is open (db.ts opens it): the Prisma client, the driver under it
// for the few set-based bulk statements, and how to close it. Shared by both backends (db.ts for
// PostgreSQL, pglite.ts for the embedded one).
import type { PrismaClient } from "../generated/prisma/client.js";

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

// Bulk snapshot writes of 100k members take a few seconds; the default 5 s would cut them off.
export const TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 10 * 60_000 };

/** An error's message, for wrapping it in a DatabaseError. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
