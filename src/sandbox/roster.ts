// The district the sandbox serves: OneRoster 1.1 records plus the indexes that make every endpoint a
// map lookup (class → enrollments, school → users, …). All changes go through the methods here so
// the indexes never drift from the records; `version` counts changes and invalidates derived lists.
import type {
  AcademicSessionRecord,
  ClassRecord,
  CourseRecord,
  EnrollmentRecord,
  OrgRecord,
  Ref,
  UserRecord,
  UserRole,
} from "./records.js";
import { makeRef } from "./records.js";

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) {
    list.push(value);
  } else {
    map.set(key, [value]);
  }
}

function removeFrom<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (!list) {
    return;
  }
  const at = list.indexOf(value);
  if (at >= 0) {
    list.splice(at, 1);
  }
}

export class District {
  readonly orgs: OrgRecord[] = [];
  readonly academicSessions: AcademicSessionRecord[] = [];
  readonly courses: CourseRecord[] = [];
  readonly classes: ClassRecord[] = [];
  users: UserRecord[] = [];
  enrollments: EnrollmentRecord[] = [];
  /** Bumped on every change; derived lists (students, teachers, …) are cached per version. */
  version = 0;

  private readonly orgById = new Map<string, OrgRecord>();
  private readonly sessionById = new Map<string, AcademicSessionRecord>();
  private readonly courseById = new Map<string, CourseRecord>();
  private readonly classById = new Map<string, ClassRecord>();
  private readonly userById = new Map<string, UserRecord>();
  /** Built on first use: single-enrollment lookups are rare and the map is the largest index. */
  private enrollmentById: Map<string, EnrollmentRecord> | undefined;
  private readonly enrollmentsByClass = new Map<string, EnrollmentRecord[]>();
  private readonly enrollmentsByUser = new Map<string, EnrollmentRecord[]>();
  private readonly usersBySchool = new Map<string, UserRecord[]>();
  private readonly classesBySchool = new Map<string, ClassRecord[]>();
  private readonly classesByCourse = new Map<string, ClassRecord[]>();
  private readonly coursesBySchool = new Map<string, CourseRecord[]>();
  private readonly refs = new Map<string, Ref>();
  private cache = new Map<string, unknown[]>();
  private cacheVersion = 0;
  private readonly idCounters = new Map<string, number>();

  constructor(readonly seed: number) {}

  /** One shared ref object per record, so millions of references cost one pointer each. */
  ref(type: Ref["type"], sourcedId: string): Ref {
    const key = `${type}:${sourcedId}`;
    let ref = this.refs.get(key);
    if (!ref) {
      ref = makeRef(type, sourcedId);
      this.refs.set(key, ref);
    }
    return ref;
  }

  /** A sourcedId not used before in this district (for records added after generation). */
  nextId(prefix: string): string {
    const n = (this.idCounters.get(prefix) ?? 0) + 1;
    this.idCounters.set(prefix, n);
    return `${prefix}-x${String(n).padStart(4, "0")}`;
  }

  // ---- adding -------------------------------------------------------------------------------

  addOrg(org: OrgRecord): void {
    this.orgs.push(org);
    this.orgById.set(org.sourcedId, org);
    this.touch();
  }

  addAcademicSession(session: AcademicSessionRecord): void {
    this.academicSessions.push(session);
    this.sessionById.set(session.sourcedId, session);
    this.touch();
  }

  addCourse(course: CourseRecord): void {
    this.courses.push(course);
    this.courseById.set(course.sourcedId, course);
    pushTo(this.coursesBySchool, course.org.sourcedId, course);
    this.touch();
  }

  addClass(cls: ClassRecord): void {
    this.classes.push(cls);
    this.classById.set(cls.sourcedId, cls);
    pushTo(this.classesBySchool, cls.school.sourcedId, cls);
    pushTo(this.classesByCourse, cls.course.sourcedId, cls);
    this.touch();
  }

  addUser(user: UserRecord): void {
    this.users.push(user);
    this.userById.set(user.sourcedId, user);
    for (const org of user.orgs) {
      pushTo(this.usersBySchool, org.sourcedId, user);
    }
    this.touch();
  }

  addEnrollment(enrollment: EnrollmentRecord): void {
    this.enrollments.push(enrollment);
    this.enrollmentById?.set(enrollment.sourcedId, enrollment);
    pushTo(this.enrollmentsByClass, enrollment.class.sourcedId, enrollment);
    pushTo(this.enrollmentsByUser, enrollment.user.sourcedId, enrollment);
    this.touch();
  }

  // ---- changing -----------------------------------------------------------------------------

  /** Shallow-merges `fields` into a user; `null` deletes a field. Re-indexes `orgs`. */
  updateUser(sourcedId: string, fields: Record<string, unknown>): UserRecord {
    const user = this.userById.get(sourcedId);
    if (!user) {
      throw new RangeError(`no user ${sourcedId}`);
    }
    for (const org of user.orgs) {
      removeFrom(this.usersBySchool, org.sourcedId, user);
    }
    for (const [key, value] of Object.entries(fields)) {
      if (key === "sourcedId") {
        continue;
      }
      if (value === null) {
        delete user[key];
      } else {
        user[key] = value;
      }
    }
    for (const org of Array.isArray(user.orgs) ? user.orgs : []) {
      pushTo(this.usersBySchool, org.sourcedId, user);
    }
    this.touch();
    return user;
  }

  /** Shallow-merges `fields` into a class (a rename, a new location); `null` deletes a field. */
  updateClass(sourcedId: string, fields: Record<string, unknown>): ClassRecord {
    const cls = this.classById.get(sourcedId);
    if (!cls) {
      throw new RangeError(`no class ${sourcedId}`);
    }
    const record = cls as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(fields)) {
      if (key === "sourcedId" || key === "school" || key === "course") {
        continue;
      }
      if (value === null) {
        delete record[key];
      } else {
        record[key] = value;
      }
    }
    this.touch();
    return cls;
  }

  /** Removes enrollments (by identity) from every list and index. */
  removeEnrollments(remove: ReadonlySet<EnrollmentRecord>): void {
    if (remove.size === 0) {
      return;
    }
    this.enrollments = this.enrollments.filter((e) => !remove.has(e));
    for (const e of remove) {
      this.enrollmentById?.delete(e.sourcedId);
      removeFrom(this.enrollmentsByClass, e.class.sourcedId, e);
      removeFrom(this.enrollmentsByUser, e.user.sourcedId, e);
    }
    this.touch();
  }

  /** Deletes users outright (and their enrollments), as a provider that dropped them would. */
  removeUsers(ids: ReadonlySet<string>): void {
    if (ids.size === 0) {
      return;
    }
    const enrollments = new Set<EnrollmentRecord>();
    for (const id of ids) {
      for (const e of this.enrollmentsByUser.get(id) ?? []) {
        enrollments.add(e);
      }
    }
    this.removeEnrollments(enrollments);
    this.users = this.users.filter((u) => !ids.has(u.sourcedId));
    for (const id of ids) {
      const user = this.userById.get(id);
      this.userById.delete(id);
      this.enrollmentsByUser.delete(id);
      for (const org of user?.orgs ?? []) {
        const list = this.usersBySchool.get(org.sourcedId);
        if (list) {
          this.usersBySchool.set(
            org.sourcedId,
            list.filter((u) => !ids.has(u.sourcedId)),
          );
        }
      }
    }
    this.touch();
  }

  private touch(): void {
    this.version += 1;
  }

  // ---- reading ------------------------------------------------------------------------------

  org(id: string): OrgRecord | undefined {
    return this.orgById.get(id);
  }
  school(id: string): OrgRecord | undefined {
    const org = this.orgById.get(id);
    return org?.type === "school" ? org : undefined;
  }
  academicSession(id: string): AcademicSessionRecord | undefined {
    return this.sessionById.get(id);
  }
  course(id: string): CourseRecord | undefined {
    return this.courseById.get(id);
  }
  class(id: string): ClassRecord | undefined {
    return this.classById.get(id);
  }
  user(id: string): UserRecord | undefined {
    return this.userById.get(id);
  }
  enrollment(id: string): EnrollmentRecord | undefined {
    this.enrollmentById ??= new Map(this.enrollments.map((e) => [e.sourcedId, e]));
    return this.enrollmentById.get(id);
  }

  schools(): OrgRecord[] {
    return this.cached("schools", () => this.orgs.filter((o) => o.type === "school"));
  }
  terms(): AcademicSessionRecord[] {
    return this.cached("terms", () => this.academicSessions.filter((s) => s.type === "term"));
  }
  usersWithRole(role: UserRole): UserRecord[] {
    return this.cached(`role:${role}`, () => this.users.filter((u) => u.role === role));
  }
  classEnrollments(classId: string): EnrollmentRecord[] {
    return this.enrollmentsByClass.get(classId) ?? [];
  }
  userEnrollments(userId: string): EnrollmentRecord[] {
    return this.enrollmentsByUser.get(userId) ?? [];
  }
  /** Users enrolled in a class with the role, each once, in enrollment order. */
  classUsers(classId: string, role: "student" | "teacher"): UserRecord[] {
    return this.cached(`class:${classId}:${role}`, () => {
      const seen = new Set<string>();
      const out: UserRecord[] = [];
      for (const e of this.classEnrollments(classId)) {
        const user = e.role === role ? this.userById.get(e.user.sourcedId) : undefined;
        if (user && !seen.has(user.sourcedId)) {
          seen.add(user.sourcedId);
          out.push(user);
        }
      }
      return out;
    });
  }
  /** Users whose `orgs` include the school, with the role. */
  schoolUsers(schoolId: string, role: UserRole): UserRecord[] {
    return this.cached(`school:${schoolId}:${role}`, () =>
      (this.usersBySchool.get(schoolId) ?? []).filter((u) => u.role === role),
    );
  }
  schoolClasses(schoolId: string): ClassRecord[] {
    return this.classesBySchool.get(schoolId) ?? [];
  }
  schoolCourses(schoolId: string): CourseRecord[] {
    return this.coursesBySchool.get(schoolId) ?? [];
  }
  courseClasses(courseId: string): ClassRecord[] {
    return this.classesByCourse.get(courseId) ?? [];
  }
  schoolEnrollments(schoolId: string): EnrollmentRecord[] {
    return this.cached(`school:${schoolId}:enrollments`, () =>
      this.schoolClasses(schoolId).flatMap((c) => this.classEnrollments(c.sourcedId)),
    );
  }
  /** Classes a user is enrolled in (any role), each once. */
  userClasses(userId: string): ClassRecord[] {
    const seen = new Set<string>();
    const out: ClassRecord[] = [];
    for (const e of this.userEnrollments(userId)) {
      const cls = this.classById.get(e.class.sourcedId);
      if (cls && !seen.has(cls.sourcedId)) {
        seen.add(cls.sourcedId);
        out.push(cls);
      }
    }
    return out;
  }

  /** Record counts, for logs, the admin API and the benchmark. */
  counts(): Record<string, number> {
    return {
      orgs: this.orgs.length,
      schools: this.schools().length,
      academicSessions: this.academicSessions.length,
      courses: this.courses.length,
      classes: this.classes.length,
      users: this.users.length,
      students: this.usersWithRole("student").length,
      teachers: this.usersWithRole("teacher").length,
      administrators: this.usersWithRole("administrator").length,
      enrollments: this.enrollments.length,
    };
  }

  private cached<T>(key: string, compute: () => T[]): T[] {
    if (this.cacheVersion !== this.version) {
      this.cache = new Map();
      this.cacheVersion = this.version;
    }
    let value = this.cache.get(key) as T[] | undefined;
    if (!value) {
      value = compute();
      this.cache.set(key, value);
    }
    return value;
  }
}
