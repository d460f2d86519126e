// The district as Clever API v3 records, and the `/v3.0/…` paths as a pure lookup. Clever ids are
// the OneRoster sourcedIds, so a connector reading either API sees the same people. Clever shares
// only active users: `tobedeleted` and `enabledUser: "false"` users are left out, as Clever drops a
// user the SIS no longer sends (section `students` / `teachers` lists leave them out too).
import type { ClassRecord, CourseRecord, OrgRecord, UserRecord } from "./records.js";
import type { District } from "./roster.js";

export type CleverObject = Record<string, unknown> & { id: string };

/** Clever's `role` values; `staff` holds the OneRoster administrators. */
export const CLEVER_ROLES = ["student", "teacher", "staff", "district_admin", "contact"] as const;
export type CleverRole = (typeof CLEVER_ROLES)[number];

const ROLE_OF = { student: "student", teacher: "teacher", administrator: "staff" } as const;

const GRADE_OF: Record<string, string> = {
  IT: "InfantToddler",
  PR: "Preschool",
  PK: "PreKindergarten",
  TK: "TransitionalKindergarten",
  KG: "Kindergarten",
  PS: "PostGraduate",
  UG: "Ungraded",
};

/** OneRoster grade code → Clever's grade value ("06" → "6", "KG" → "Kindergarten"). */
export function cleverGrade(grade: string | undefined): string | undefined {
  if (grade === undefined) {
    return undefined;
  }
  if (/^\d+$/.test(grade)) {
    return String(Number(grade));
  }
  return GRADE_OF[grade] ?? "Other";
}

/** OneRoster subject names → Clever's normalised section subjects. */
const SUBJECT_OF: Record<string, string> = {
  "English Language Arts": "english/language arts",
  Mathematics: "math",
  Science: "science",
  "Social Studies": "social studies",
  Spanish: "language",
  Art: "arts and music",
  Music: "arts and music",
  "Physical Education": "PE and health",
  "Computer Science": "technology and engineering",
};

const byId = (a: CleverObject, b: CleverObject): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The first index of a list sorted by id whose id is not below `id` (binary search). */
export function lowerBound(records: readonly CleverObject[], id: string): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
const refIds = (refs: unknown): string[] =>
  Array.isArray(refs) ? refs.map((r) => String((r as { sourcedId: unknown }).sourcedId)) : [];
const visible = (u: UserRecord): boolean => u.status === "active" && u.enabledUser !== "false";

export type CleverResolved =
  | { kind: "list"; collection: string; records: readonly CleverObject[] }
  | { kind: "single"; collection: string; record: CleverObject }
  | { kind: "missing"; description: string }
  | { kind: "bad"; description: string };

/** The Clever records of one district version. Lists are sorted by id, as Clever pages them. */
export class CleverView {
  readonly version: number;
  readonly #district: District;
  readonly #districtId: string;
  readonly #users = new Map<string, CleverObject>();
  readonly #lists = new Map<string, CleverObject[]>();

  constructor(district: District) {
    this.#district = district;
    this.version = district.version;
    this.#districtId = district.orgs.find((o) => o.type === "district")?.sourcedId ?? "district";
    for (const user of district.users) {
      if (visible(user)) {
        this.#users.set(user.sourcedId, this.#user(user));
      }
    }
  }

  /** The records a path below `/v3.0/` names; `role` is the `role` query parameter. */
  resolve(segments: string[], role: string | null): CleverResolved {
    if (role !== null && !(CLEVER_ROLES as readonly string[]).includes(role)) {
      return { kind: "bad", description: `unknown role "${role}" (known: ${CLEVER_ROLES.join(", ")})` };
    }
    const [collection, id, sub] = segments;
    const d = this.#district;
    if (segments.length === 1) {
      switch (collection) {
        case "users":
          return this.#list("users", `users:${role}`, () =>
            [...this.#users.values()].filter((u) => role === null || role in (u.roles as object)),
          );
        case "sections":
          return this.#list("sections", "sections", () => d.classes.map((c) => this.#section(c)));
        case "schools":
          return this.#list("schools", "schools", () => d.schools().map((s) => this.#school(s)));
        case "courses":
          return this.#list("courses", "courses", () => d.courses.map((c) => this.#course(c)));
        case "districts":
          return this.#list("districts", "districts", () =>
            d.orgs.filter((o) => o.type === "district").map((o) => ({ id: o.sourcedId, name: o.name })),
          );
      }
      return { kind: "missing", description: `no endpoint /v3.0/${segments.join("/")}` };
    }
    if (id === undefined || segments.length > 3) {
      return { kind: "missing", description: `no endpoint /v3.0/${segments.join("/")}` };
    }
    const single = this.resolve([collection!], null);
    const at = single.kind === "list" ? single.records[lowerBound(single.records, id)] : undefined;
    const record = at?.id === id ? at : undefined;
    if (!record) {
      return { kind: "missing", description: `no ${collection} ${id}` };
    }
    if (segments.length === 2) {
      return { kind: "single", collection: collection!, record };
    }
    const users = (people: UserRecord[]): CleverObject[] =>
      people.flatMap((u) => this.#users.get(u.sourcedId) ?? []);
    switch (`${collection}/${sub}`) {
      case "sections/users":
        return this.#list("users", `section:${id}:${role}`, () => {
          const ids = [
            ...(role === null || role === "student" ? (record.students as string[]) : []),
            ...(role === null || role === "teacher" ? (record.teachers as string[]) : []),
          ];
          return [...new Set(ids)].flatMap((u) => this.#users.get(u) ?? []);
        });
      case "schools/users":
        return this.#list("users", `school:${id}:${role}`, () =>
          Object.entries(ROLE_OF)
            .filter(([, clever]) => role === null || clever === role)
            .flatMap(([oneRoster]) => users(d.schoolUsers(id, oneRoster as keyof typeof ROLE_OF))),
        );
      case "schools/sections":
        return this.#list("sections", `school:${id}:sections`, () =>
          d.schoolClasses(id).map((c) => this.#section(c)),
        );
      case "schools/courses":
        return this.#list("courses", `school:${id}:courses`, () =>
          d.schoolCourses(id).map((c) => this.#course(c)),
        );
      case "courses/sections":
        return this.#list("sections", `course:${id}:sections`, () =>
          d.courseClasses(id).map((c) => this.#section(c)),
        );
    }
    return { kind: "missing", description: `no endpoint /v3.0/${segments.join("/")}` };
  }

  #list(collection: string, key: string, build: () => CleverObject[]): CleverResolved {
    let records = this.#lists.get(key);
    if (!records) {
      records = build().sort(byId);
      this.#lists.set(key, records);
    }
    return { kind: "list", collection, records };
  }

  #user(u: UserRecord): CleverObject {
    const schools = refIds(u.orgs);
    const base = {
      school: schools[0],
      schools,
      sis_id: u.identifier,
      credentials: { district_username: u.username },
    };
    const roleData: Record<string, unknown> =
      u.role === "student"
        ? {
            ...base,
            student_number: u.identifier,
            grade: cleverGrade(Array.isArray(u.grades) ? u.grades[0] : undefined),
          }
        : u.role === "teacher"
          ? { ...base, teacher_number: u.identifier, title: "Teacher" }
          : { ...base, staff_id: u.identifier, title: "Administrator" };
    return {
      id: u.sourcedId,
      district: this.#districtId,
      name: { first: u.givenName, last: u.familyName, ...(u.middleName ? { middle: u.middleName } : {}) },
      email: u.email,
      created: u.dateLastModified,
      last_modified: u.dateLastModified,
      roles: { [ROLE_OF[u.role] ?? "staff"]: roleData },
    };
  }

  #section(c: ClassRecord): CleverObject {
    const ids = (role: "student" | "teacher"): string[] =>
      this.#district
        .classUsers(c.sourcedId, role)
        .filter((u) => this.#users.has(u.sourcedId))
        .map((u) => u.sourcedId);
    const teachers = ids("teacher");
    return {
      id: c.sourcedId,
      district: this.#districtId,
      school: c.school.sourcedId,
      course: c.course.sourcedId,
      name: c.title,
      sis_id: c.classCode,
      period: c.periods[0],
      subject: SUBJECT_OF[c.subjects[0] ?? ""] ?? "other",
      grade: cleverGrade(c.grades[0]),
      term_id: c.terms[0]?.sourcedId,
      teacher: teachers[0],
      teachers,
      students: ids("student"),
      created: c.dateLastModified,
      last_modified: c.dateLastModified,
    };
  }

  #school(s: OrgRecord): CleverObject {
    return {
      id: s.sourcedId,
      district: this.#districtId,
      name: s.name,
      sis_id: s.identifier,
      school_number: s.identifier,
      created: s.dateLastModified,
      last_modified: s.dateLastModified,
    };
  }

  #course(c: CourseRecord): CleverObject {
    return { id: c.sourcedId, district: this.#districtId, name: c.title, number: c.courseCode };
  }
}
