// The last applied membership of each mapping (table snapshot_members). Reads and writes are
// set-based SQL: Prisma's createMany/upsert of 100k rows takes 15–20 s; one set-based statement per
// chunk of rows, run on the driver in the run's transaction (db.ts DriverSql), about 1 s.

import type { Member } from "../domain.js";
import { arrayLiteral, copyRow } from "./copy.js";
import type { DriverSql, StoreDb } from "./db.js";

/** Rows per statement: large enough to amortise the round trip, small enough to keep each parameter a few MB. */
export const SNAPSHOT_CHUNK = 10_000;

/** A member as loadSnapshot reads it: [user_key, sourced_id, role, username, email, given_name, family_name, grades, orgs]. */
type MemberTuple = [
  string,
  string,
  string,
  string | null,
  string | null,
  string | null,
  string | null,
  string[] | null,
  string[] | null,
];

// The whole snapshot as ONE json text, parsed by JSON.parse: decoding 100k rows of 9 columns row by
// row took 2.5 s on PGlite (its row decoder is JavaScript), the one document 0.7–1 s; on PostgreSQL
// it is as fast as rows.
const selectMembers = (order: string): string =>
  `SELECT coalesce(json_agg(json_build_array(user_key, sourced_id, role, username, email, given_name,
     family_name, grades, orgs)${order}), '[]')::text AS members
   FROM snapshot_members WHERE mapping = $1`;

async function readMembers(db: StoreDb, mapping: string, order = ""): Promise<MemberTuple[]> {
  const rows = await db.prisma.$queryRawUnsafe<{ members: string }[]>(selectMembers(order), mapping);
  return JSON.parse(rows[0]?.members ?? "[]") as MemberTuple[];
}

/** The mapping's snapshot, by member key. Empty when the mapping never succeeded. */
export async function loadSnapshot(db: StoreDb, mapping: string): Promise<Map<string, Member>> {
  const members = new Map<string, Member>();
  for (const row of await readMembers(db, mapping)) {
    members.set(row[0], toMember(row));
  }
  return members;
}

/** The mapping's snapshot as a list sorted by key (byte order, the same on every backend). */
export async function listMembers(db: StoreDb, mapping: string): Promise<Member[]> {
  return (await readMembers(db, mapping, ` ORDER BY user_key COLLATE "C"`)).map(toMember);
}

function toMember(row: MemberTuple): Member {
  return {
    key: row[0],
    sourcedId: row[1],
    role: row[2],
    username: row[3],
    email: row[4],
    givenName: row[5],
    familyName: row[6],
    grades: row[7] ?? [],
    orgs: row[8] ?? [],
  };
}

const MEMBER_COLUMNS = `mapping, user_key, sourced_id, role, username, email, given_name, family_name, grades, orgs, run_id`;

// One text[] parameter per column (arrays of the member's grades and orgs as array literals):
// cheaper to parse than a JSON document per row.
const UPSERT_MEMBERS = `INSERT INTO snapshot_members (${MEMBER_COLUMNS})
  SELECT $1, x.k, x.s, x.r, x.u, x.e, x.g, x.f, x.gr::text[], x.o::text[], $2
    FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                $10::text[], $11::text[]) AS x(k, s, r, u, e, g, f, gr, o)
  ON CONFLICT (mapping, user_key) DO UPDATE SET
    sourced_id = excluded.sourced_id, role = excluded.role, username = excluded.username,
    email = excluded.email, given_name = excluded.given_name, family_name = excluded.family_name,
    grades = excluded.grades, orgs = excluded.orgs, run_id = excluded.run_id`;

// Keys as a JSON array: PGlite serialises a text[] parameter of 100k keys ten times slower.
const DELETE_MEMBERS = `DELETE FROM snapshot_members
  WHERE mapping = $1 AND user_key IN (SELECT json_array_elements_text($2::json))`;

const HAS_MEMBERS = `SELECT 1 FROM snapshot_members WHERE mapping = $1 LIMIT 1`;

const COPY_MEMBERS = `COPY snapshot_members (${MEMBER_COLUMNS}) FROM '/dev/blob'`;

/**
 * Applies a snapshot delta inside the caller's transaction: `upserts` (added and updated members)
 * written with `runId`, `removes` (member keys) deleted. Keys must be unique within `upserts`.
 * Where the driver has COPY (PGlite), the rows of the upserted and removed keys are deleted in one
 * statement and the upserts copied in: the same result as the upsert, in half the time.
 */
export async function writeSnapshotDelta(
  tx: DriverSql,
  mapping: string,
  runId: string,
  delta: { upserts: readonly Member[]; removes: readonly string[] },
): Promise<void> {
  if (tx.copyFrom) {
    // A first snapshot has nothing to delete: skip the look-up of 100k keys.
    const stored = (await tx.query(HAS_MEMBERS, [mapping])).length > 0;
    const keys = stored ? [...delta.removes, ...delta.upserts.map((m) => m.key)] : [];
    for (let i = 0; i < keys.length; i += SNAPSHOT_CHUNK) {
      await tx.execute(DELETE_MEMBERS, [mapping, JSON.stringify(keys.slice(i, i + SNAPSHOT_CHUNK))]);
    }
    if (delta.upserts.length > 0) {
      await tx.copyFrom(COPY_MEMBERS, copyMembers(mapping, runId, delta.upserts));
    }
    return;
  }
  for (let i = 0; i < delta.removes.length; i += SNAPSHOT_CHUNK) {
    await tx.execute(DELETE_MEMBERS, [mapping, JSON.stringify(delta.removes.slice(i, i + SNAPSHOT_CHUNK))]);
  }
  for (let i = 0; i < delta.upserts.length; i += SNAPSHOT_CHUNK) {
    const chunk = delta.upserts.slice(i, i + SNAPSHOT_CHUNK);
    await tx.execute(UPSERT_MEMBERS, [
      mapping,
      runId,
      chunk.map((m) => m.key),
      chunk.map((m) => m.sourcedId),
      chunk.map((m) => m.role),
      chunk.map((m) => m.username),
      chunk.map((m) => m.email),
      chunk.map((m) => m.givenName),
      chunk.map((m) => m.familyName),
      chunk.map((m) => arrayLiteral(m.grades)),
      chunk.map((m) => arrayLiteral(m.orgs)),
    ]);
  }
}

/** The members as COPY text-format rows, in MEMBER_COLUMNS order. */
function copyMembers(mapping: string, runId: string, members: readonly Member[]): string {
  const rows: string[] = [];
  for (const m of members) {
    rows.push(
      copyRow([
        mapping,
        m.key,
        m.sourcedId,
        m.role,
        m.username,
        m.email,
        m.givenName,
        m.familyName,
        arrayLiteral(m.grades),
        arrayLiteral(m.orgs),
        runId,
      ]),
    );
  }
  return rows.join("");
}
