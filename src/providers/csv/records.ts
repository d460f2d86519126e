// Rows → the OneRoster JSON-shaped records the sync reads (so that group matching, `include` and
// keyIdentifier see the same fields as over REST). Each JSON field has the column it comes from and
// how it is read; a record is built from only the fields asked for, so that a bundle's columns the
// sync never reads (`metadata.*` extensions, phone numbers, user ids) are not held in memory.
import type { CsvRow } from "./parse.js";

export interface Ref {
  sourcedId: string;
  type: string;
}

/** One shared ref object per target, so that a reference costs a pointer. */
export class Refs {
  readonly #refs = new Map<string, Ref>();

  get(type: string, sourcedId: string): Ref {
    const key = `${type}:${sourcedId}`;
    let ref = this.#refs.get(key);
    if (!ref) {
      ref = { sourcedId, type };
      this.#refs.set(key, ref);
    }
    return ref;
  }
}

export interface Field {
  column: string;
  read(row: CsvRow, refs: Refs): unknown;
}

export type RecordTable = "orgs" | "courses" | "classes" | "users";

export const list = (value: string): string[] =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");

/** `{LDAP:jdoe},{FED:123}` → [{ type, identifier }] as the REST binding sends userIds. */
function userIds(value: string): { type: string; identifier: string }[] {
  return [...value.matchAll(/\{([^:}]*):([^}]*)\}/g)].map((m) => ({
    type: m[1]!.trim(),
    identifier: m[2]!.trim(),
  }));
}

const text = (column: string): Field => ({ column, read: (row) => row.get(column) });
const id = (column: string): Field => ({ column, read: (row) => row.id(column) });
const many = (column: string): Field => ({ column, read: (row) => list(row.get(column)) });
const ref = (column: string, type: string): Field => ({
  column,
  read: (row, refs) => {
    const target = row.id(column);
    return target ? refs.get(type, target) : null;
  },
});
const refs = (column: string, type: string): Field => ({
  column,
  read: (row, r) => list(row.get(column)).map((target) => r.get(type, target)),
});

const COMMON = { sourcedId: id("sourcedId"), status: id("status"), dateLastModified: id("dateLastModified") };

/** Each table's JSON fields (OneRoster 1.1 REST names) and the CSV column each is read from. */
export const FIELDS: Record<RecordTable, Readonly<Record<string, Field>>> = {
  orgs: {
    ...COMMON,
    name: text("name"),
    type: id("type"),
    identifier: text("identifier"),
    parent: ref("parentSourcedId", "org"),
  },
  courses: {
    ...COMMON,
    title: text("title"),
    schoolYear: ref("schoolYearSourcedId", "academicSession"),
    courseCode: text("courseCode"),
    grades: many("grades"),
    subjects: many("subjects"),
    subjectCodes: many("subjectCodes"),
    org: ref("orgSourcedId", "org"),
  },
  classes: {
    ...COMMON,
    title: text("title"),
    classCode: text("classCode"),
    classType: id("classType"),
    location: text("location"),
    grades: many("grades"),
    subjects: many("subjects"),
    subjectCodes: many("subjectCodes"),
    course: ref("courseSourcedId", "course"),
    school: ref("schoolSourcedId", "org"),
    terms: refs("termSourcedIds", "academicSession"),
    periods: many("periods"),
  },
  // `password` has no field: secrets stay out of logs, errors and the database.
  users: {
    ...COMMON,
    username: text("username"),
    userIds: { column: "userIds", read: (row) => userIds(row.get("userIds")) },
    enabledUser: id("enabledUser"),
    givenName: text("givenName"),
    familyName: text("familyName"),
    middleName: text("middleName"),
    role: id("role"),
    identifier: text("identifier"),
    email: text("email"),
    sms: text("sms"),
    phone: text("phone"),
    agents: refs("agentSourcedIds", "user"),
    orgs: refs("orgSourcedIds", "org"),
    grades: many("grades"),
  },
};

/** What normaliseUser reads: every user record keeps these. */
export const USER_FIELDS = [
  "sourcedId",
  "status",
  "enabledUser",
  "role",
  "username",
  "email",
  "givenName",
  "familyName",
  "grades",
  "orgs",
] as const;

/** An extension column; absent from the header, the field is absent from the record (as over REST). */
const extension = (column: string): Field => ({
  column,
  read: (row) => (row.has(column) ? row.get(column) : undefined),
});

/** The field's definition; a name that is not a OneRoster field is an extension column of that name. */
export function fieldOf(table: RecordTable, name: string): Field {
  return FIELDS[table][name] ?? extension(name);
}

/** The CSV columns holding the fields. */
export function columnsOf(table: RecordTable, names: Iterable<string>): string[] {
  return [...new Set([...names].map((name) => fieldOf(table, name).column))];
}

/** Builds records of a table with the fields asked for, or every field and extension column (`all`). */
export function recordReader(
  table: RecordTable,
  keep: readonly string[] | "all",
  refs: Refs,
  known: readonly string[],
): (row: CsvRow) => Record<string, unknown> & { sourcedId: string } {
  if (keep === "all") {
    const fields = Object.entries(FIELDS[table]);
    return (row) => {
      const record: Record<string, unknown> = row.extras(known);
      for (const [name, field] of fields) {
        record[name] = field.read(row, refs);
      }
      return record as Record<string, unknown> & { sourcedId: string };
    };
  }
  const fields = [...new Set(["sourcedId", ...keep])].map((name) => [name, fieldOf(table, name)] as const);
  return (row) => {
    const record: Record<string, unknown> = {};
    for (const [name, field] of fields) {
      const value = field.read(row, refs);
      if (value !== undefined) {
        record[name] = value;
      }
    }
    return record as Record<string, unknown> & { sourcedId: string };
  };
}
