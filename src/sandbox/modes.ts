// Strict modes of the sandbox's REST dialects: servers that are as sparse and odd as the specs
// allow, because connectors break where the sandbox is kinder than the world. Switched at start
// (`SandboxOptions.modes`) or at runtime (`POST /_sandbox/modes`); they apply to every dialect.
//
// `minimal`, per dialect:
//   OneRoster 1.1 / 1.2 (and ClassLink, which is 1.1): only the required endpoints (top-level
//     collections and single records; every nested endpoint such as `/classes/{id}/students` is
//     optional and answers 404), only the required fields of each record, `filter`, `sort` and
//     `fields` ignored (everything is answered), no Link and no X-Total-Count headers (both
//     "SHOULD"), the collection in a shuffled order (stable across the pages of one district
//     version, so offset paging still holds), and `limit` capped at MINIMAL_PAGE_SIZE.
//   Clever: only the fields a record must have, and `limit` capped at MINIMAL_PAGE_SIZE. Clever
//     defines id order (its `starting_after` cursor) and the `role` filter, so those stay.
// `topLevelOnly` (OneRoster 1.1 / 1.2): only the top-level collections: no nested endpoints and no
//   single records either (`/classes/{id}`, `/users/{id}` answer 404), as some 1.2 servers do.
import { createRandom } from "./random.js";

export interface SandboxModes {
  /** Serve only what the dialect's spec requires, as oddly as it allows (see above). Default false. */
  minimal?: boolean;
  /** OneRoster: only top-level collections, no nested endpoints, no single records. Default false. */
  topLevelOnly?: boolean;
}

/** The `limit` cap of minimal mode: odd, so that no page size a client picks lines up with it. */
export const MINIMAL_PAGE_SIZE = 7;

const MODE_KEYS = ["minimal", "topLevelOnly"] as const;

/** Checks an untrusted modes object (from the admin API); throws a TypeError naming the bad key. */
export function parseModes(input: unknown): SandboxModes {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new TypeError("modes must be a JSON object");
  }
  for (const [key, value] of Object.entries(input)) {
    if (!(MODE_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`unknown mode "${key}" (known: ${MODE_KEYS.join(", ")})`);
    }
    if (typeof value !== "boolean") {
      throw new TypeError(`${key} must be true or false`);
    }
  }
  return input as SandboxModes;
}

const BASE = ["sourcedId", "status", "dateLastModified"];

/** Required fields of each OneRoster record, by envelope key (plural and singular). */
const REQUIRED_11: Record<string, readonly string[]> = {
  orgs: [...BASE, "name", "type"],
  academicSessions: [...BASE, "title", "startDate", "endDate", "type", "schoolYear"],
  courses: [...BASE, "title", "org"],
  classes: [...BASE, "title", "classType", "course", "school", "terms"],
  users: [...BASE, "username", "enabledUser", "givenName", "familyName", "role", "orgs"],
  enrollments: [...BASE, "user", "class", "school", "role"],
};
const REQUIRED_12: Record<string, readonly string[]> = {
  ...REQUIRED_11,
  users: [...BASE, "username", "enabledUser", "givenName", "familyName", "roles"],
};
const SINGULAR: Record<string, string> = {
  org: "orgs",
  academicSession: "academicSessions",
  course: "courses",
  class: "classes",
  user: "users",
  enrollment: "enrollments",
};
/** A GUIDRef's required fields; a 1.2 role entry's. */
const REF_FIELDS = ["href", "sourcedId", "type"];
const ROLE_FIELDS = ["roleType", "role", "org"];

type Json = Record<string, unknown>;

const pick = (record: Json, fields: readonly string[]): Json => {
  const out: Json = {};
  for (const field of fields) {
    if (record[field] !== undefined) {
      out[field] = record[field];
    }
  }
  return out;
};

const trimRef = (value: unknown): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? pick(value as Json, REF_FIELDS)
    : value;

/** A OneRoster record (1.1 or 1.2 shape) with only its required fields. */
export function minimalOneRosterRecord(version: "1.1" | "1.2", key: string, record: object): Json {
  const fields = (version === "1.1" ? REQUIRED_11 : REQUIRED_12)[SINGULAR[key] ?? key];
  if (!fields) {
    return record as Json;
  }
  const out = pick(record as Json, fields);
  for (const [field, value] of Object.entries(out)) {
    if (field === "roles" && Array.isArray(value)) {
      out.roles = value.map((r: Json) => ({ ...pick(r, ROLE_FIELDS), org: trimRef(r.org) }));
    } else {
      out[field] = Array.isArray(value) ? value.map(trimRef) : trimRef(value);
    }
  }
  return out;
}

/** Required fields of Clever records, by collection. */
const CLEVER_REQUIRED: Record<string, readonly string[]> = {
  users: ["id", "district", "name", "roles"],
  sections: ["id", "district", "school", "course", "name", "students", "teachers"],
  schools: ["id", "district", "name"],
  courses: ["id", "district", "name"],
  districts: ["id", "name"],
};

/** A Clever record with only its required fields (a user's role data keeps only its schools). */
export function minimalCleverRecord(collection: string, record: Json): Json {
  const fields = CLEVER_REQUIRED[collection];
  if (!fields) {
    return record;
  }
  const out = pick(record, fields);
  if (collection === "users" && typeof out.roles === "object" && out.roles !== null) {
    out.roles = Object.fromEntries(
      Object.entries(out.roles as Json).map(([role, data]) => [
        role,
        pick(data as Json, ["school", "schools"]),
      ]),
    );
  }
  return out;
}

/**
 * The records in an order of their own, fixed per list (and so per district version, since lists
 * are rebuilt on change): offset paging over them stays consistent, yet nothing can lean on
 * sourcedId order or on the order of another collection.
 */
export class Shuffler {
  #shuffled = new WeakMap<readonly object[], object[]>();

  constructor(private readonly seed: number) {}

  of<T extends object>(records: readonly T[]): T[] {
    let out = this.#shuffled.get(records);
    if (!out) {
      out = createRandom(this.seed ^ records.length).shuffle(records);
      this.#shuffled.set(records, out);
    }
    return out as T[];
  }
}
