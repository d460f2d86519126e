// Applies the migrations in prisma/migrations at start, offline: Prisma's native schema engine is not
// available here (see notes/environment.md), so this does what `prisma migrate deploy` does and keeps
// `_prisma_migrations` exactly as it would, so that `prisma migrate status` / `deploy` run by a user
// with the engine agree with us. One row per migration: inserted with 0 steps before the script
// runs, then `finished_at` and `applied_steps_count = 1`; on failure the error goes to `logs` and
// later starts refuse to continue, as Prisma does (P3009), until someone resolves it.

import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { DatabaseError } from "../errors.js";

/** The one connection migrations run on (a session: the advisory lock belongs to it). */
export interface MigrationConnection {
  /** One statement with `$1…` parameters; returns the rows as objects. */
  query<T extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A multi-statement script in one round trip (simple query protocol: one implicit transaction). */
  executeScript(script: string): Promise<void>;
}

export interface Migration {
  /** The folder name, e.g. `20261129000000_init`: what `_prisma_migrations.migration_name` holds. */
  name: string;
  /** Lowercase hex SHA-256 of the bytes of `migration.sql`, as Prisma computes it. */
  checksum: string;
  script: string;
}

export interface MigrateOptions {
  /** PostgreSQL servers are shared: take an advisory lock so workers starting together do not race. */
  kind: "pglite" | "postgres";
  /** Default: `prisma/migrations` under the package root. */
  migrationsDir?: string;
  /** Told about each migration applied (e.g. a pino logger's `info`). */
  onApplied?: (name: string) => void;
}

/** The key `prisma migrate` itself locks on, so our workers and a user's `prisma migrate deploy` also exclude each other. */
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// The table as Prisma's schema engine creates it on PostgreSQL.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
  logs: string | null;
}

/** The package root: the nearest folder above this file holding a package.json (works from src/ and dist/src/). */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new DatabaseError(`cannot find the package root (no package.json above ${from})`);
    }
    dir = parent;
  }
}

export function defaultMigrationsDir(): string {
  return join(packageRoot(), "prisma", "migrations");
}

/** The migrations in Prisma's layout (`<dir>/<name>/migration.sql`), in name order as Prisma applies them. */
export async function readMigrations(dir: string = defaultMigrationsDir()): Promise<Migration[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new DatabaseError(`cannot read the migrations folder ${dir}`, { cause: error });
  }
  const names = entries
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, "migration.sql")))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(dir, name, "migration.sql"));
      return {
        name,
        checksum: createHash("sha256").update(bytes).digest("hex"),
        script: bytes.toString("utf8"),
      };
    }),
  );
}

/**
 * Applies the pending migrations. Refuses (DatabaseError) when a migration failed earlier and was not
 * resolved, or when an applied migration's file was edited afterwards (its checksum differs).
 * Returns the names of the migrations applied now.
 */
export async function applyMigrations(conn: MigrationConnection, options: MigrateOptions): Promise<string[]> {
  const migrations = await readMigrations(options.migrationsDir);
  const locked = options.kind === "postgres";
  if (locked) {
    await conn.query(`SELECT pg_advisory_lock(${PRISMA_ADVISORY_LOCK_KEY})`);
  }
  try {
    await conn.executeScript(CREATE_MIGRATIONS_TABLE);
    const rows = await conn.query<MigrationRow>(
      `SELECT id, checksum, migration_name, finished_at, rolled_back_at, started_at, logs
         FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
    );
    checkHistory(migrations, rows);
    const applied = new Set(
      rows
        .filter((row) => row.finished_at !== null && row.rolled_back_at === null)
        .map((r) => r.migration_name),
    );
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.name)) {
        continue;
      }
      await applyOne(conn, migration);
      done.push(migration.name);
      options.onApplied?.(migration.name);
    }
    return done;
  } finally {
    if (locked) {
      await conn.query(`SELECT pg_advisory_unlock(${PRISMA_ADVISORY_LOCK_KEY})`).catch(() => undefined);
    }
  }
}

function checkHistory(migrations: Migration[], rows: MigrationRow[]): void {
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new DatabaseError(
      `migration ${failed.migration_name} (started at ${new Date(failed.started_at).toISOString()}) failed ` +
        `earlier; no further migrations are applied until it is resolved (fix the database, then ` +
        `\`prisma migrate resolve --rolled-back ${failed.migration_name}\` or \`--applied\`): ` +
        `${(failed.logs ?? "").trim() || "no log recorded"}`,
    );
  }
  const byName = new Map(migrations.map((m) => [m.name, m]));
  for (const row of rows) {
    const migration = byName.get(row.migration_name);
    if (
      migration &&
      row.finished_at !== null &&
      row.rolled_back_at === null &&
      row.checksum !== migration.checksum
    ) {
      throw new DatabaseError(
        `migration ${row.migration_name} was modified after it was applied (checksum ${migration.checksum} ` +
          `differs from the recorded ${row.checksum}); restore prisma/migrations/${row.migration_name}/migration.sql`,
      );
    }
  }
}

async function applyOne(conn: MigrationConnection, migration: Migration): Promise<void> {
  const id = randomUUID();
  await conn.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), 0)`,
    [id, migration.checksum, migration.name],
  );
  try {
    await conn.executeScript(migration.script);
  } catch (error) {
    const logs = migrationLogs(error);
    await conn
      .query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, logs])
      .catch(() => undefined);
    throw new DatabaseError(`migration ${migration.name} failed: ${logs}`, { cause: error });
  }
  await conn.query(
    `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = applied_steps_count + 1 WHERE id = $1`,
    [id],
  );
}

/** The `logs` text in the shape Prisma writes for a failed PostgreSQL migration. */
function migrationLogs(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; position?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(error);
  const code = typeof e?.code === "string" ? `Database error code: ${e.code}\n\n` : "";
  const position = typeof e?.position === "string" ? ` (at character ${e.position})` : "";
  return `${code}Database error:\nERROR: ${message}${position}`;
}
