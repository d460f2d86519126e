// What the sync reads from a bundle, worked out from the mappings a connector serves: the files
// (users always; orgs for a schools group; classes and enrollments for a classes or courses group;
// courses for a courses group, since a course is found by its own fields), the group fields the
// mappings match on, and the user fields `include` and keyIdentifier name. The loader is strict about
// these and lenient about the rest of the OneRoster 1.1 CSV rules, and keeps only these in memory.
// Without the mappings (a caller that does not say) every file is needed and every column kept.
import type { MappingConfig, ProviderConfig } from "../../config/schema.js";
import type { GroupType } from "../types.js";
import { columnsOf, FIELDS, USER_FIELDS, type RecordTable } from "./records.js";
import { REQUIRED_TABLES, TABLES, type TableName, type TableUse } from "./tables.js";

export type { TableUse };

export interface CsvNeeds {
  /** The data files read, in reading order, each with why (for messages). */
  tables: ReadonlyMap<TableName, string>;
  /** The group fields matched on, per group type; "all": every field and extension column. */
  groupFields: Readonly<Record<GroupType, readonly string[]>> | "all";
  /** The user fields kept; "all": every field and extension column. */
  userFields: readonly string[] | "all";
  use: Readonly<Record<TableName, TableUse>>;
  /** providers.*.maxRecords: the most data rows one file may hold. */
  maxRows: number;
}

const GROUP_TABLE = { schools: "orgs", courses: "courses", classes: "classes" } as const;
const GROUP_TABLES: readonly RecordTable[] = ["orgs", "courses", "classes"];

/** The columns a matchOn names in a table: its own fields, and names that are no group table's field
 * (an extension such as `metadata.code`). A default field of another table (classes have no `name`)
 * is left out. */
function matchColumns(table: RecordTable, fields: readonly string[]): string[] {
  const own = fields.filter(
    (f) => f in FIELDS[table] || !GROUP_TABLES.some((t) => f in FIELDS[t] || TABLES[t].columns.includes(f)),
  );
  return columnsOf(table, own);
}

export function csvNeeds(provider: ProviderConfig, mappings?: readonly MappingConfig[]): CsvNeeds {
  const everything = mappings === undefined;
  const tables = new Map<TableName, string>();
  const matchOn: Record<GroupType, Set<string>> = {
    schools: new Set(),
    courses: new Set(),
    classes: new Set(),
  };
  /** User fields a mapping names (include, keyIdentifier): their columns must be there. */
  const named = new Set<string>([provider.keyIdentifier]);
  if (everything) {
    for (const table of REQUIRED_TABLES) {
      tables.set(table, "every mapping kind (the mappings were not given)");
    }
    for (const type of Object.keys(matchOn) as GroupType[]) {
      provider.matchGroupsBy.forEach((f) => matchOn[type].add(f));
    }
  } else {
    const why = (table: TableName, reason: string) => {
      if (!tables.has(table)) {
        tables.set(table, reason);
      }
    };
    for (const mapping of mappings) {
      Object.keys(mapping.include ?? {}).forEach((f) => named.add(f));
      for (const group of mapping.groups ?? []) {
        const reason = `mapping ${mapping.name} (a ${group.type} group)`;
        group.matchOn.forEach((f) => matchOn[group.type].add(f));
        if (group.type === "schools") {
          why("orgs", reason);
        } else {
          if (group.type === "courses") {
            why("courses", reason);
          }
          why("classes", reason);
          why("enrollments", reason);
        }
      }
    }
    why("users", mappings.length > 0 ? `mapping ${mappings[0]!.name}` : "every mapping");
  }
  const ordered = new Map(REQUIRED_TABLES.filter((t) => tables.has(t)).map((t) => [t, tables.get(t)!]));
  const matched = (type: GroupType) => matchColumns(GROUP_TABLE[type], [...matchOn[type]]);
  const withCourses = tables.has("courses") ? ["courseSourcedId"] : [];
  const use: Record<TableName, TableUse> = {
    orgs: tableUse("orgs", ["sourcedId", "type", ...matched("schools")]),
    courses: tableUse("courses", ["sourcedId", ...matched("courses")]),
    classes: tableUse("classes", ["sourcedId", ...withCourses, ...matched("classes")]),
    // Events carry these; they are the columns the spec requires. email and grades are optional
    // columns: a bundle without them gives members without them (unless a mapping names them).
    users: tableUse(
      "users",
      [
        "sourcedId",
        "role",
        "enabledUser",
        "username",
        "givenName",
        "familyName",
        "orgSourcedIds",
        ...columnsOf("users", named),
      ],
      // A blank name or org is the user's data, not a broken bundle: a warning.
      ["sourcedId", "role"],
    ),
    enrollments: tableUse("enrollments", ["classSourcedId", "userSourcedId", "role"]),
    academicSessions: tableUse("academicSessions", []),
  };
  return {
    tables: ordered,
    groupFields: everything
      ? "all"
      : { schools: [...matchOn.schools], courses: [...matchOn.courses], classes: [...matchOn.classes] },
    userFields: everything ? "all" : [...new Set([...USER_FIELDS, ...named])],
    use,
    maxRows: provider.maxRecords,
  };
}

/** Read columns, and which must be filled: the spec-required ones among them, unless `filled` says. */
function tableUse(table: TableName, columns: string[], filled?: string[]): TableUse {
  const values = filled ?? columns.filter((c) => TABLES[table].required.includes(c));
  return { columns: new Set(columns), values: new Set(values) };
}
