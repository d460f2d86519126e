// Reads a whole OneRoster 1.1 CSV bundle into the index the Provider methods answer from: the groups
// (as OneRoster JSON-shaped records, so that group matching sees the same fields as over REST), the
// users (normalised once, shared by every answer), users by org, and each class's active student
// and teacher enrollments as references to those users. Rows are streamed; nothing else is kept.
// Any problem in the bundle (header, row, dangling reference) fails the load: no partial roster.
import { normaliseUser } from "../oneroster/normalise.js";
import type { OneRosterRecord } from "../oneroster/paging.js";
import type { ProgressFn, RosterGroup, RosterUser } from "../types.js";
import { readManifest } from "./manifest.js";
import { readTable, type CsvRow, type Problems } from "./parse.js";
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

interface Ref {
  sourcedId: string;
  type: string;
}

const list = (value: string): string[] =>
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
  readonly orgs = new Map<string, RosterGroup>();
  readonly userById = new Map<string, RosterUser>();
  /** Tables whose rows were read; references into others are not checked (their problem is reported). */
  readonly readable = new Set<TableName>();
  readonly refs = new Map<string, Ref>();
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
    readonly problems: Problems,
    readonly onProgress: ProgressFn | undefined,
  ) {}

  /** One shared ref object per target, so a reference costs a pointer. */
  ref(type: string, sourcedId: string): Ref {
    const key = `${type}:${sourcedId}`;
    let ref = this.refs.get(key);
    if (!ref) {
      ref = { sourcedId, type };
      this.refs.set(key, ref);
    }
    return ref;
  }

  /** Records a dangling reference unless the referenced table itself could not be read. */
  known(
    row: CsvRow,
    file: string,
    column: string,
    id: string,
    table: TableName,
    ids: { has(id: string): boolean },
  ) {
    if (id === "") {
      return false; // reported as a blank required field
    }
    if (this.readable.has(table) && !ids.has(id)) {
      this.problems.add(file, row.line, `${column} "${id}" is not in ${TABLES[table].file}`);
      return false;
    }
    return true;
  }

  unique(row: CsvRow, file: string, ids: { has(id: string): boolean }): boolean {
    const id = row.id("sourcedId");
    if (ids.has(id)) {
      this.problems.add(file, row.line, `sourcedId "${id}" repeats an earlier row`);
      return false;
    }
    return true;
  }

  async table(name: TableName, onRow: (row: CsvRow) => void): Promise<void> {
    const spec = TABLES[name];
    const outcome = await readTable(
      this.source,
      spec,
      this.problems,
      (row) => {
        this.index.rows += 1;
        onRow(row);
      },
      this.onProgress,
    );
    if (outcome === "missing") {
      this.problems.add(spec.file, undefined, "is missing (the manifest lists it as bulk)");
    } else if (outcome === "read") {
      this.readable.add(name);
    }
  }

  base(row: CsvRow, name: TableName): Record<string, unknown> {
    return {
      ...row.extras(TABLES[name].columns),
      sourcedId: row.id("sourcedId"),
      status: row.id("status"),
      dateLastModified: row.id("dateLastModified"),
    };
  }
}

/** Reads the bundle. Returns the index, or undefined when there were problems (see `problems`). */
export async function loadBundle(
  source: BundleSource,
  problems: Problems,
  onProgress?: ProgressFn,
): Promise<RosterIndex | undefined> {
  if (!(await readManifest(source, problems))) {
    return undefined;
  }
  const l = new Loader(source, problems, onProgress);
  const { index } = l;

  const parents: { row: CsvRow; parent: string }[] = [];
  await l.table("orgs", (row) => {
    if (!l.unique(row, "orgs.csv", l.orgs)) {
      return;
    }
    const parent = row.id("parentSourcedId");
    const fields: OneRosterRecord = {
      ...l.base(row, "orgs"),
      sourcedId: row.id("sourcedId"),
      name: row.get("name"),
      type: row.id("type"),
      identifier: row.get("identifier"),
      parent: parent ? l.ref("org", parent) : null,
    };
    const org: RosterGroup = { type: "schools", sourcedId: fields.sourcedId, fields };
    l.orgs.set(org.sourcedId, org);
    if (row.id("type").toLowerCase() === "school") {
      index.schools.push(org);
      index.schoolIds.add(org.sourcedId);
    }
    if (parent) {
      parents.push({ row, parent });
    }
  });
  for (const { row, parent } of parents) {
    l.known(row, "orgs.csv", "parentSourcedId", parent, "orgs", l.orgs);
  }

  await l.table("courses", (row) => {
    if (!l.unique(row, "courses.csv", index.courseIds)) {
      return;
    }
    const org = row.id("orgSourcedId");
    l.known(row, "courses.csv", "orgSourcedId", org, "orgs", l.orgs);
    const year = row.id("schoolYearSourcedId");
    const fields: OneRosterRecord = {
      ...l.base(row, "courses"),
      sourcedId: row.id("sourcedId"),
      title: row.get("title"),
      schoolYear: year ? l.ref("academicSession", year) : null,
      courseCode: row.get("courseCode"),
      grades: list(row.get("grades")),
      subjects: list(row.get("subjects")),
      subjectCodes: list(row.get("subjectCodes")),
      org: l.ref("org", org),
    };
    index.courseIds.add(fields.sourcedId);
    index.courses.push({ type: "courses", sourcedId: fields.sourcedId, fields });
  });

  await l.table("classes", (row) => {
    if (!l.unique(row, "classes.csv", index.classIds)) {
      return;
    }
    const course = row.id("courseSourcedId");
    const school = row.id("schoolSourcedId");
    l.known(row, "classes.csv", "courseSourcedId", course, "courses", index.courseIds);
    l.known(row, "classes.csv", "schoolSourcedId", school, "orgs", l.orgs);
    const fields: OneRosterRecord = {
      ...l.base(row, "classes"),
      sourcedId: row.id("sourcedId"),
      title: row.get("title"),
      classCode: row.get("classCode"),
      classType: row.id("classType"),
      location: row.get("location"),
      grades: list(row.get("grades")),
      subjects: list(row.get("subjects")),
      subjectCodes: list(row.get("subjectCodes")),
      course: l.ref("course", course),
      school: l.ref("org", school),
      terms: list(row.get("termSourcedIds")).map((id) => l.ref("academicSession", id)),
      periods: list(row.get("periods")),
    };
    const cls: RosterGroup = { type: "classes", sourcedId: fields.sourcedId, fields };
    index.classIds.add(cls.sourcedId);
    index.classes.push(cls);
    pushTo(index.classesByCourse, course, cls);
  });

  await l.table("users", (row) => {
    if (!l.unique(row, "users.csv", l.userById)) {
      return;
    }
    const orgs = list(row.get("orgSourcedIds"));
    for (const org of orgs) {
      l.known(row, "users.csv", "orgSourcedIds", org, "orgs", l.orgs);
    }
    const extras = row.extras(TABLES.users.columns);
    // `password` is never kept: secrets stay out of logs, errors and the database.
    const record: OneRosterRecord = {
      ...extras,
      sourcedId: row.id("sourcedId"),
      status: row.id("status"),
      dateLastModified: row.id("dateLastModified"),
      username: row.get("username"),
      userIds: userIds(row.get("userIds")),
      enabledUser: row.id("enabledUser"),
      givenName: row.get("givenName"),
      familyName: row.get("familyName"),
      middleName: row.get("middleName"),
      role: row.id("role"),
      identifier: row.get("identifier"),
      email: row.get("email"),
      sms: row.get("sms"),
      phone: row.get("phone"),
      agents: list(row.get("agentSourcedIds")).map((id) => l.ref("user", id)),
      orgs: orgs.map((id) => l.ref("org", id)),
      grades: list(row.get("grades")),
    };
    const user = normaliseUser(record);
    l.userById.set(user.sourcedId, user);
    index.users.push(user);
    for (const org of new Set(orgs)) {
      pushTo(index.usersByOrg, org, user);
    }
  });

  await l.table("enrollments", (row) => {
    const classId = row.id("classSourcedId");
    const userId = row.id("userSourcedId");
    const classKnown = l.known(row, "enrollments.csv", "classSourcedId", classId, "classes", index.classIds);
    const userKnown = l.known(row, "enrollments.csv", "userSourcedId", userId, "users", l.userById);
    l.known(row, "enrollments.csv", "schoolSourcedId", row.id("schoolSourcedId"), "orgs", l.orgs);
    const role = row.id("role").toLowerCase();
    const user = l.userById.get(userId);
    if (!classKnown || !userKnown || !user || row.id("status").toLowerCase() === "tobedeleted") {
      return;
    }
    if (role !== "student" && role !== "teacher") {
      return;
    }
    let members = index.classMembers.get(classId);
    if (!members) {
      members = { students: [], teachers: [] };
      index.classMembers.set(classId, members);
    }
    (role === "student" ? members.students : members.teachers).push(user);
  });

  return problems.count === 0 ? index : undefined;
}
