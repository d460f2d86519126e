// Reads a OneRoster 1.1 CSV bundle into the index the Provider methods answer from: the groups (as
// OneRoster JSON-shaped records, so that group matching sees the same fields as over REST), the
// users (normalised once, shared by every answer), users by org, and each class's active student
// and teacher enrollments as references to those users. Rows are streamed; of each row only the
// fields the sync reads are kept (needs.ts). A problem with what the sync reads (a key, a role, a
// status, a matched field, a reference membership follows) fails the load: no partial roster. Other
// departures from the spec are warnings.
import { normaliseUser } from "../oneroster/normalise.js";
import type { ProgressFn, RosterGroup, RosterUser } from "../types.js";
import { readManifest } from "./manifest.js";
import type { CsvNeeds } from "./needs.js";
import { readTable, type CsvRow, type Problems, type Report } from "./parse.js";
import { list, recordReader, Refs } from "./records.js";
import type { BundleSource } from "./source.js";
import { TABLES, type TableName } from "./tables.js";

export interface ClassMembers {
  /** Users with an active `student` enrollment, in file order (repeats possible; callers de-duplicate). */
  students: RosterUser[];
  teachers: RosterUser[];
}

export interface RosterIndex {
  schools: RosterGroup[];
  schoolIds: Set<string>;
  courseIds: Set<string>;
  classIds: Set<string>;
  courses: RosterGroup[];
  classes: RosterGroup[];
  classesByCourse: Map<string, RosterGroup[]>;
  classMembers: Map<string, ClassMembers>;
  users: RosterUser[];
  /** Users whose orgSourcedIds include the org (what OneRoster's /schools/{id}/students lists). */
  usersByOrg: Map<string, RosterUser[]>;
  /** Data rows read, all files together. */
  rows: number;
}

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const existing = map.get(key);
  if (existing) {
    existing.push(value);
  } else {
    map.set(key, [value]);
  }
}

/** What the loader keeps while reading, before the index is handed out. */
class Loader {
  readonly orgIds = new Set<string>();
  readonly userById = new Map<string, RosterUser>();
  /** Tables whose rows were read; references into others are not checked. */
  readonly readable = new Set<TableName>();
  readonly refs = new Refs();
  readonly index: RosterIndex = {
    schools: [],
    schoolIds: new Set(),
    courseIds: new Set(),
    classIds: new Set(),
    courses: [],
    classes: [],
    classesByCourse: new Map(),
    classMembers: new Map(),
    users: [],
    usersByOrg: new Map(),
    rows: 0,
  };

  constructor(
    readonly source: BundleSource,
    readonly needs: CsvNeeds,
    readonly report: Report,
    readonly onProgress: ProgressFn | undefined,
  ) {}

  problems(strict: boolean): Problems {
    return strict ? this.report.errors : this.report.warnings;
  }

  /** False (and a problem, an error when `strict`) for a reference to a row its table lacks. */
  known(
    row: CsvRow,
    column: string,
    id: string,
    table: TableName,
    ids: { has(id: string): boolean },
    strict: boolean,
  ): boolean {
    if (id === "") {
      return false; // reported as a blank field where it is required
    }
    if (this.readable.has(table) && !ids.has(id)) {
      this.problems(strict).add(row.file, row.line, `${column} "${id}" is not in ${TABLES[table].file}`);
      return false;
    }
    return true;
  }

  /** A key seen before is an error: two rows claiming one id leave the roster ambiguous. */
  unique(row: CsvRow, ids: { has(id: string): boolean }): boolean {
    const id = row.id("sourcedId");
    if (ids.has(id)) {
      this.report.errors.add(row.file, row.line, `sourcedId "${id}" repeats an earlier row`);
      return false;
    }
    return true;
  }

  async table(name: TableName, onRow: (row: CsvRow) => void, key?: string): Promise<void> {
    if (!this.needs.tables.has(name)) {
      return;
    }
    const spec = { ...TABLES[name], use: this.needs.use[name], key, maxRows: this.needs.maxRows };
    const outcome = await readTable(
      this.source,
      spec,
      this.report,
      (row) => {
        this.index.rows += 1;
        onRow(row);
      },
      this.onProgress,
    );
    if (outcome === "missing") {
      this.report.errors.add(spec.file, undefined, "is missing (the manifest lists it as bulk)");
    } else if (outcome === "read") {
      this.readable.add(name);
    }
  }

  groupReader(table: "orgs" | "courses" | "classes", type: "schools" | "courses" | "classes") {
    const fields = this.needs.groupFields;
    return recordReader(table, fields === "all" ? "all" : fields[type], this.refs, TABLES[table].columns);
  }
}

/** Reads the bundle. Returns the index, or undefined when there were errors (see `report`). */
export async function loadBundle(
  source: BundleSource,
  needs: CsvNeeds,
  report: Report,
  onProgress?: ProgressFn,
): Promise<RosterIndex | undefined> {
  if (!(await readManifest(source, needs, report))) {
    return undefined;
  }
  const l = new Loader(source, needs, report, onProgress);
  const { index } = l;
  const courses = needs.tables.has("courses");

  const parents: { row: CsvRow; parent: string }[] = [];
  const org = l.groupReader("orgs", "schools");
  await l.table("orgs", (row) => {
    if (!l.unique(row, l.orgIds)) {
      return;
    }
    l.orgIds.add(row.id("sourcedId"));
    if (row.id("type").toLowerCase() === "school") {
      const fields = org(row);
      index.schools.push({ type: "schools", sourcedId: fields.sourcedId, fields });
      index.schoolIds.add(fields.sourcedId);
    }
    const parent = row.id("parentSourcedId");
    if (parent) {
      parents.push({ row, parent });
    }
  });
  for (const { row, parent } of parents) {
    l.known(row, "parentSourcedId", parent, "orgs", l.orgIds, false);
  }

  const course = l.groupReader("courses", "courses");
  await l.table("courses", (row) => {
    if (!l.unique(row, index.courseIds)) {
      return;
    }
    l.known(row, "orgSourcedId", row.id("orgSourcedId"), "orgs", l.orgIds, false);
    const fields = course(row);
    index.courseIds.add(fields.sourcedId);
    index.courses.push({ type: "courses", sourcedId: fields.sourcedId, fields });
  });

  const cls = l.groupReader("classes", "classes");
  await l.table("classes", (row) => {
    if (!l.unique(row, index.classIds)) {
      return;
    }
    const courseId = row.id("courseSourcedId");
    // Which classes a course mapping selects: strict when one is configured.
    l.known(row, "courseSourcedId", courseId, "courses", index.courseIds, courses);
    l.known(row, "schoolSourcedId", row.id("schoolSourcedId"), "orgs", l.orgIds, false);
    const fields = cls(row);
    const group: RosterGroup = { type: "classes", sourcedId: fields.sourcedId, fields };
    index.classIds.add(group.sourcedId);
    index.classes.push(group);
    if (courseId) {
      pushTo(index.classesByCourse, courseId, group);
    }
  });

  const user = recordReader("users", needs.userFields, l.refs, TABLES.users.columns);
  await l.table("users", (row) => {
    if (!l.unique(row, l.userById)) {
      return;
    }
    const orgs = list(row.get("orgSourcedIds"));
    for (const orgId of orgs) {
      l.known(row, "orgSourcedIds", orgId, "orgs", l.orgIds, false);
    }
    const member = normaliseUser(user(row));
    l.userById.set(member.sourcedId, member);
    index.users.push(member);
    for (const orgId of new Set(orgs)) {
      pushTo(index.usersByOrg, orgId, member);
    }
  });

  await l.table(
    "enrollments",
    (row) => {
      const classId = row.id("classSourcedId");
      const userId = row.id("userSourcedId");
      // A row marked tobedeleted makes nobody a member: what it points at is not checked strictly.
      const live = row.id("status").toLowerCase() !== "tobedeleted";
      const classKnown = l.known(row, "classSourcedId", classId, "classes", index.classIds, live);
      const userKnown = l.known(row, "userSourcedId", userId, "users", l.userById, live);
      l.known(row, "schoolSourcedId", row.id("schoolSourcedId"), "orgs", l.orgIds, false);
      const role = row.id("role").toLowerCase();
      const member = l.userById.get(userId);
      if (!classKnown || !userKnown || !member || !live || (role !== "student" && role !== "teacher")) {
        return;
      }
      let members = index.classMembers.get(classId);
      if (!members) {
        members = { students: [], teachers: [] };
        index.classMembers.set(classId, members);
      }
      (role === "student" ? members.students : members.teachers).push(member);
    },
    // Enrollments' own sourcedIds identify nothing the sync uses.
    "userSourcedId",
  );

  return report.errors.count === 0 ? index : undefined;
}
