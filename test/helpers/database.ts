// Fresh databases for a test file: a PostgreSQL database of its own on the private server started by
// test/setup/services.ts, or a temp folder for an embedded PGlite. Both are removed by `drop()`.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

import pg from "pg";
import { inject } from "vitest";

export interface TestDatabase {
  /** A URL for openDatabase. */
  url: string;
  kind: "pglite" | "postgres";
  drop(): Promise<void>;
}

/** `CREATE DATABASE test_<random>` on the private server; `drop()` removes it (closing leftover sessions). */
export async function createPostgresDatabase(): Promise<TestDatabase> {
  const admin = inject("databaseUrl");
  const name = `test_${randomBytes(6).toString("hex")}`;
  await withClient(admin, async (client) => {
    await client.query(`CREATE DATABASE "${name}"`);
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: "postgres",
    drop: () =>
      withClient(admin, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

/** A new temp folder for an embedded database (not created: openDatabase creates it). */
export async function createPGliteFolder(): Promise<TestDatabase & { dir: string }> {
  const parent = await mkdtemp(join(tmpdir(), "roster-sync-pglite-"));
  const dir = join(parent, "db");
  return {
    url: `file:${dir}`,
    dir,
    kind: "pglite",
    drop: () => rm(parent, { recursive: true, force: true }),
  };
}

export function createTestDatabase(kind: "pglite" | "postgres"): Promise<TestDatabase> {
  return kind === "postgres" ? createPostgresDatabase() : createPGliteFolder();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
