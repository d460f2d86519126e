// The last applied membership of each mapping (table snapshot_members). Reads and writes are
// set-based SQL: Prisma's createMany/upsert of 100k rows takes 15–20 s, one `INSERT … SELECT FROM
// json_to_recordset(…)` per chunk of rows takes well under a second on both backends.

import type { Prisma } from "../generated/prisma/client.js";
import type { Member } from "../sync/member.js";
import type { StoreDb } from "./db.js";

/** Rows per statement: large enough to amortise the round trip, small enough to keep each parameter a few MB. */
export const SNAPSHOT_CHUNK = 10_000;

interface MemberRow {
  user_key: string;
  sourced_id: string;
  role: string;
  username: string | null;
  email: string | null;
  given_name: string | null;
  family_name: string | null;
  grades: string[] | null;
  orgs: string[] | null;
}

const SELECT_MEMBERS = `SELECT user_key, sourced_id, role, username, email, given_name, family_name, grades, orgs
  FROM snapshot_members WHERE mapping = $1`;

/** The mapping's snapshot, by member key. Empty when the mapping never succeeded. */
export async function loadSnapshot(db: StoreDb, mapping: string): Promise<Map<string, Member>> {
  const rows = await db.prisma.$queryRawUnsafe<MemberRow[]>(SELECT_MEMBERS, mapping);
  const members = new Map<string, Member>();
  for (const row of rows) {
    members.set(row.user_key, toMember(row));
  }
  return members;
}

/** The mapping's snapshot as a list sorted by key (byte order, the same on every backend). */
export async function listMembers(db: StoreDb, mapping: string): Promise<Member[]> {
  const rows = await db.prisma.$queryRawUnsafe<MemberRow[]>(
    `${SELECT_MEMBERS} ORDER BY user_key COLLATE "C"`,
    mapping,
  );
  return rows.map(toMember);
}

function toMember(row: MemberRow): Member {
  return {
    key: row.user_key,
    sourcedId: row.sourced_id,
    role: row.role,
    username: row.username,
    email: row.email,
    givenName: row.given_name,
    familyName: row.family_name,
    grades: row.grades ?? [],
    orgs: row.orgs ?? [],
  };
}

const UPSERT_MEMBERS = `INSERT INTO snapshot_members
    (mapping, user_key, sourced_id, role, username, email, given_name, family_name, grades, orgs, run_id)
  SELECT $2, x.key, x."sourcedId", x.role, x.username, x.email, x."givenName", x."familyName",
         coalesce(x.grades, '{}'), coalesce(x.orgs, '{}'), $3
    FROM json_to_recordset($1::json) AS x(key text, "sourcedId" text, role text, username text, email text,
         "givenName" text, "familyName" text, grades text[], orgs text[])
  ON CONFLICT (mapping, user_key) DO UPDATE SET
    sourced_id = excluded.sourced_id, role = excluded.role, username = excluded.username,
    email = excluded.email, given_name = excluded.given_name, family_name = excluded.family_name,
    grades = excluded.grades, orgs = excluded.orgs, run_id = excluded.run_id`;

const DELETE_MEMBERS = `DELETE FROM snapshot_members
  WHERE mapping = $2 AND user_key IN (SELECT json_array_elements_text($1::json))`;

/**
 * Applies a snapshot delta inside the caller's transaction: `upserts` (added and updated members)
 * written with `runId`, `removes` (member keys) deleted. Keys must be unique within `upserts`.
 */
export async function writeSnapshotDelta(
  tx: Prisma.TransactionClient,
  mapping: string,
  runId: string,
  delta: { upserts: readonly Member[]; removes: readonly string[] },
): Promise<void> {
  for (let i = 0; i < delta.removes.length; i += SNAPSHOT_CHUNK) {
    await tx.$executeRawUnsafe(
      DELETE_MEMBERS,
      JSON.stringify(delta.removes.slice(i, i + SNAPSHOT_CHUNK)),
      mapping,
    );
  }
  for (let i = 0; i < delta.upserts.length; i += SNAPSHOT_CHUNK) {
    const chunk = delta.upserts.slice(i, i + SNAPSHOT_CHUNK).map(memberJson);
    await tx.$executeRawUnsafe(UPSERT_MEMBERS, JSON.stringify(chunk), mapping, runId);
  }
}

// Only the columns we store, whatever else the object carries.
function memberJson(m: Member): Member {
  return {
    key: m.key,
    sourcedId: m.sourcedId,
    role: m.role,
    username: m.username,
    email: m.email,
    givenName: m.givenName,
    familyName: m.familyName,
    grades: m.grades,
    orgs: m.orgs,
  };
}
