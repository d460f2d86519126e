// A seeded district generator: the same options give the same district, record for record. Sized
// from a demo (3 schools, a few hundred users) to a benchmark (20 schools × 3,000 students: 60k
// students, 2,400 teachers, ~14k classes, ~360k enrollments) in a few seconds.
//
// Realistic dirt on purpose: a few users `tobedeleted` or `enabledUser: "false"`, names with
// accents and apostrophes, two sections sharing a title in every course with more than one section
// ("ELA 6 (6A ELA)" twice per middle school, and across middle schools), and the first student of
// each grade enrolled in both of those twin sections.
import type { Random } from "./random.js";
import { createRandom } from "./random.js";
import { FAMILY_NAMES, GIVEN_NAMES, SCHOOL_NAMES, asciiSlug } from "./names.js";
import type { ClassRecord, CourseRecord, OrgRecord, Ref, UserRecord, UserRole } from "./records.js";
import { District } from "./roster.js";
import {
  COURSE_TITLE,
  LEVELS,
  LEVEL_ORDER,
  SUBJECTS,
  gradeLabel,
  sectionLetter,
  type Level,
} from "./catalog.js";

export { District } from "./roster.js";

export interface DistrictOptions {
  /** Seed of every random choice. Default 1. */
  seed?: number;
  /** Number of schools; they cycle middle (grades 06–08), elementary (KG–05), high (09–12). Default 3. */
  schools?: number;
  /** Students per school. Default 100. */
  studentsPerSchool?: number;
  /** Teachers per school. Default: one per 25 students, at least 3. */
  teachersPerSchool?: number;
  /** Classes per teacher; a school has about teachers × classesPerTeacher classes. Default 6. */
  classesPerTeacher?: number;
  /** Administrators per school (role "administrator"). Default 1. */
  administratorsPerSchool?: number;
  /** Fraction of users made `tobedeleted`, and separately `enabledUser: "false"`; at least one student
   * of each per school. Default 0.01. */
  dirtyRate?: number;
  /** Fraction of students in a twin section also enrolled in its twin. Default 0.02. */
  multiSectionRate?: number;
  /** The school year's end year: 2026 → "2025-2026". Default 2026. */
  schoolYear?: number;
  /** `dateLastModified` of every generated record. Default "<schoolYear-1>-08-15T12:00:00.000Z". */
  dateLastModified?: string;
  /**
   * Adds `classes` homeroom sections all titled `title` (e.g. 500 × "Advisory", the benchmark's
   * "one mapping over 500 classes that share a title"), spread round-robin over the schools, each
   * school's students divided among its own and each taught by one of its teachers, under one
   * extra course per school. Added after everything else, so the other records are the same as
   * without it. Default: none.
   */
  sharedTitle?: { title: string; classes: number };
}

export const DISTRICT_DEFAULTS = {
  seed: 1,
  schools: 3,
  studentsPerSchool: 100,
  classesPerTeacher: 6,
  administratorsPerSchool: 1,
  dirtyRate: 0.01,
  multiSectionRate: 0.02,
  schoolYear: 2026,
} satisfies Omit<Required<DistrictOptions>, "teachersPerSchool" | "dateLastModified" | "sharedTitle">;

export const EMAIL_DOMAIN = "sandbox.k12.example";

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Generates a district. Deterministic: the same options always give the same records. */
export function generateDistrict(options: DistrictOptions = {}): District {
  const o = { ...DISTRICT_DEFAULTS, ...stripUndefined(options) };
  const teachersPerSchool = options.teachersPerSchool ?? Math.max(3, Math.round(o.studentsPerSchool / 25));
  const now = options.dateLastModified ?? `${o.schoolYear - 1}-08-15T12:00:00.000Z`;
  const district = new District(o.seed);
  const rnd = createRandom(o.seed);
  const usernames = new Map<string, number>();
  const uniqueUsername = (given: string, family: string): string => {
    const base = `${asciiSlug(given) || "user"}.${asciiSlug(family) || "user"}`;
    const n = (usernames.get(base) ?? 0) + 1;
    usernames.set(base, n);
    return n === 1 ? base : `${base}${n}`;
  };

  // District org and school year.
  const districtId = "dist-1";
  const schoolWidth = Math.max(2, String(o.schools).length);
  const schoolIds = Array.from({ length: o.schools }, (_, i) => `sch-${pad(i + 1, schoolWidth)}`);
  district.addOrg({
    sourcedId: districtId,
    status: "active",
    dateLastModified: now,
    name: "Sandbox Unified School District",
    type: "district",
    identifier: "SUSD",
    parent: null,
    children: schoolIds.map((id) => district.ref("org", id)),
  });
  const year = `${o.schoolYear - 1}-${o.schoolYear}`;
  const yearId = `as-${o.schoolYear}`;
  const termIds = [`${yearId}-s1`, `${yearId}-s2`];
  const start = `${o.schoolYear - 1}-08-20`;
  const end = `${o.schoolYear}-06-15`;
  district.addAcademicSession({
    sourcedId: yearId,
    status: "active",
    dateLastModified: now,
    title: year,
    type: "schoolYear",
    startDate: start,
    endDate: end,
    parent: null,
    children: termIds.map((id) => district.ref("academicSession", id)),
    schoolYear: String(o.schoolYear),
  });
  termIds.forEach((id, i) =>
    district.addAcademicSession({
      sourcedId: id,
      status: "active",
      dateLastModified: now,
      title: `Semester ${i + 1} ${year}`,
      type: "term",
      startDate: i === 0 ? start : `${o.schoolYear}-01-20`,
      endDate: i === 0 ? `${o.schoolYear}-01-16` : end,
      parent: district.ref("academicSession", yearId),
      children: [],
      schoolYear: String(o.schoolYear),
    }),
  );
  const yearRef = district.ref("academicSession", yearId);
  const termRefs = termIds.map((id) => district.ref("academicSession", id));

  const makeUser = (
    sourcedId: string,
    role: UserRole,
    orgs: Ref[],
    grades: string[],
    identifier: string,
    r: Random,
  ): UserRecord => {
    let givenName = r.pick(GIVEN_NAMES);
    let familyName = r.pick(FAMILY_NAMES);
    if (r.chance(0.01)) {
      // Some SIS exports shout.
      givenName = givenName.toUpperCase();
      familyName = familyName.toUpperCase();
    }
    const username = uniqueUsername(givenName, familyName);
    return {
      sourcedId,
      status: "active",
      dateLastModified: now,
      username,
      userIds: [{ type: "LDAP", identifier: username }],
      enabledUser: "true",
      givenName,
      familyName,
      middleName: r.chance(0.1) ? r.pick(GIVEN_NAMES) : "",
      role,
      identifier,
      email: `${username}@${EMAIL_DOMAIN}`,
      sms: "",
      phone: "",
      agents: [],
      orgs,
      grades,
    };
  };

  let enrollmentSeq = 0;
  const enrollmentWidth = 7;
  const enroll = (
    user: UserRecord,
    cls: ClassRecord,
    role: "student" | "teacher",
    primary: boolean,
  ): void => {
    enrollmentSeq += 1;
    district.addEnrollment({
      sourcedId: `enr-${pad(enrollmentSeq, enrollmentWidth)}`,
      status: "active",
      dateLastModified: now,
      user: district.ref("user", user.sourcedId),
      class: district.ref("class", cls.sourcedId),
      school: cls.school,
      role,
      primary: primary ? "true" : "false",
      beginDate: start,
      endDate: end,
    });
  };

  /** Each school's students and teachers, for `sharedTitle`. */
  const people: { schoolId: string; level: Level; students: UserRecord[]; teachers: UserRecord[] }[] = [];

  for (let s = 0; s < o.schools; s++) {
    const r = rnd.fork(`school-${s}`);
    const schoolId = schoolIds[s]!;
    const schoolNum = schoolId.slice(4);
    const schoolRef = district.ref("org", schoolId);
    const levelName = LEVEL_ORDER[s % LEVEL_ORDER.length]!;
    const level = LEVELS[levelName];
    const baseName = SCHOOL_NAMES[s % SCHOOL_NAMES.length]!;
    const round = Math.floor(s / SCHOOL_NAMES.length);
    const school: OrgRecord = {
      sourcedId: schoolId,
      status: "active",
      dateLastModified: now,
      name: `${baseName} ${level.label}${round > 0 ? ` ${round + 1}` : ""}`,
      type: "school",
      identifier: `${100 + s}`,
      parent: district.ref("org", districtId),
      children: [],
    };
    district.addOrg(school);

    // Courses: one per grade and subject.
    const courses: { course: CourseRecord; subject: string; grade: string }[] = [];
    for (const grade of level.grades) {
      for (const subject of level.subjects) {
        const code = `${SUBJECTS[subject]!.code}${gradeLabel(grade)}`;
        const course: CourseRecord = {
          sourcedId: `crs-${schoolNum}-${code.toLowerCase()}`,
          status: "active",
          dateLastModified: now,
          title: `${COURSE_TITLE[subject]} ${gradeLabel(grade)}`,
          schoolYear: yearRef,
          courseCode: code,
          grades: [grade],
          subjects: [SUBJECTS[subject]!.name],
          org: schoolRef,
        };
        district.addCourse(course);
        courses.push({ course, subject, grade });
      }
    }

    // Sections: about teachers × classesPerTeacher, core subjects weighted double; ELA has at least
    // two sections per grade so that its twin title ("ELA 6 (6A ELA)") always exists.
    const totalClasses = teachersPerSchool * o.classesPerTeacher;
    const weight = (subject: string): number => (SUBJECTS[subject]!.core ? 2 : 1);
    const totalWeight = courses.reduce((sum, c) => sum + weight(c.subject), 0);
    const sectionsOf = new Map<string, ClassRecord[]>();
    let classSeq = 0;
    const classWidth = Math.max(4, String(totalClasses * 2).length);
    for (const { course, subject, grade } of courses) {
      let n = Math.max(1, Math.round((totalClasses * weight(subject)) / totalWeight));
      if (subject === "ela") {
        n = Math.max(2, n);
      }
      const sections: ClassRecord[] = [];
      for (let k = 0; k < n; k++) {
        classSeq += 1;
        const letter = sectionLetter(k);
        const cls: ClassRecord = {
          sourcedId: `cls-${schoolNum}-${pad(classSeq, classWidth)}`,
          status: "active",
          dateLastModified: now,
          title: `${course.title} (${gradeLabel(grade)}${letter} ${SUBJECTS[subject]!.short})`,
          classCode: `${course.courseCode}-${pad(k + 1, 2)}`,
          classType: "scheduled",
          location: String(r.int(1, 3) * 100 + r.int(1, 40)),
          grades: [grade],
          subjects: course.subjects,
          course: district.ref("course", course.sourcedId),
          school: schoolRef,
          terms: SUBJECTS[subject]!.core ? [yearRef] : [r.pick(termRefs)],
          periods: [String(1 + (k % 8))],
        };
        district.addClass(cls);
        sections.push(cls);
      }
      sectionsOf.set(course.sourcedId, sections);
    }
    const schoolClasses = courses.flatMap((c) => sectionsOf.get(c.course.sourcedId)!);

    // Staff: administrators, then teachers, each teaching a consecutive block of sections (so mostly
    // one subject); a few sections get a co-teacher. The first teacher also works at the next school.
    for (let a = 0; a < o.administratorsPerSchool; a++) {
      district.addUser(
        makeUser(
          `adm-${schoolNum}-${pad(a + 1, 2)}`,
          "administrator",
          [schoolRef],
          [],
          `A${schoolNum}${a}`,
          r,
        ),
      );
    }
    const teacherWidth = Math.max(3, String(teachersPerSchool).length);
    const teachers: UserRecord[] = [];
    for (let t = 0; t < teachersPerSchool; t++) {
      const orgs = [schoolRef];
      if (t === 0 && o.schools > 1) {
        orgs.push(district.ref("org", schoolIds[(s + 1) % o.schools]!));
      }
      const teacher = makeUser(
        `tch-${schoolNum}-${pad(t + 1, teacherWidth)}`,
        "teacher",
        orgs,
        [],
        `T${schoolNum}${pad(t + 1, teacherWidth)}`,
        r,
      );
      district.addUser(teacher);
      teachers.push(teacher);
    }
    schoolClasses.forEach((cls, j) => {
      const t = Math.min(teachers.length - 1, Math.floor((j * teachers.length) / schoolClasses.length));
      enroll(teachers[t]!, cls, "teacher", true);
      if (teachers.length > 1 && r.chance(0.03)) {
        enroll(teachers[(t + 1) % teachers.length]!, cls, "teacher", false);
      }
    });

    // Students: core subjects plus some electives of their grade, one section each.
    const studentWidth = Math.max(4, String(o.studentsPerSchool).length);
    const students: UserRecord[] = [];
    for (let i = 0; i < o.studentsPerSchool; i++) {
      const grade = level.grades[i % level.grades.length]!;
      const student = makeUser(
        `stu-${schoolNum}-${pad(i + 1, studentWidth)}`,
        "student",
        [schoolRef],
        [grade],
        `${schoolNum}${pad(i + 1, studentWidth)}`,
        r,
      );
      district.addUser(student);
      students.push(student);
      const gradeCourses = courses.filter((c) => c.grade === grade);
      const core = gradeCourses.filter((c) => SUBJECTS[c.subject]!.core);
      const electives = r.sample(
        gradeCourses.filter((c) => !SUBJECTS[c.subject]!.core),
        level.electivesPerStudent,
      );
      for (const { course, subject } of [...core, ...electives]) {
        const sections = sectionsOf.get(course.sourcedId)!;
        // The first student of each grade sits in both twin ELA sections, so the case always exists.
        const forceTwin = subject === "ela" && i < level.grades.length;
        const k = forceTwin ? 0 : r.int(0, sections.length - 1);
        enroll(student, sections[k]!, "student", true);
        if (k === 0 && sections.length > 1 && (forceTwin || r.chance(o.multiSectionRate))) {
          enroll(student, sections[1]!, "student", true);
        }
      }
    }

    // Dirt: a few students (and teachers, at scale) tobedeleted or disabled, never the same user.
    const dirty = (people: UserRecord[], minimum: number): void => {
      const count = Math.max(minimum, Math.round(people.length * o.dirtyRate));
      // Skip the first per-grade students: they carry the twin-section case and should stay members.
      const candidates = r.shuffle(people.slice(level.grades.length));
      candidates.slice(0, count).forEach((u) => {
        u.status = "tobedeleted";
        u.dateLastModified = `${o.schoolYear}-01-05T09:30:00.000Z`;
      });
      candidates.slice(count, 2 * count).forEach((u) => {
        u.enabledUser = "false";
        u.dateLastModified = `${o.schoolYear}-01-05T09:30:00.000Z`;
      });
    };
    dirty(students, students.length > level.grades.length + 2 ? 1 : 0);
    dirty(teachers, 0);
    people.push({ schoolId, level: levelName, students, teachers });
  }

  if (options.sharedTitle && options.sharedTitle.classes > 0) {
    const { title, classes } = options.sharedTitle;
    people.forEach(({ schoolId, level, students, teachers }, s) => {
      const count = Math.floor(classes / people.length) + (s < classes % people.length ? 1 : 0);
      if (count === 0) {
        return;
      }
      const schoolNum = schoolId.slice(4);
      const schoolRef = district.ref("org", schoolId);
      const grades = [...LEVELS[level].grades];
      const course: CourseRecord = {
        sourcedId: `crs-${schoolNum}-shared`,
        status: "active",
        dateLastModified: now,
        title,
        schoolYear: yearRef,
        courseCode: `SHARED-${schoolNum}`,
        grades,
        subjects: ["Homeroom"],
        org: schoolRef,
      };
      district.addCourse(course);
      const sections = Array.from({ length: count }, (_, k): ClassRecord => {
        const cls: ClassRecord = {
          sourcedId: `cls-${schoolNum}-shared-${pad(k + 1, 4)}`,
          status: "active",
          dateLastModified: now,
          title,
          classCode: `SHARED-${schoolNum}-${pad(k + 1, 4)}`,
          classType: "homeroom",
          location: String(900 + k),
          grades,
          subjects: course.subjects,
          course: district.ref("course", course.sourcedId),
          school: schoolRef,
          terms: [yearRef],
          periods: ["0"],
        };
        district.addClass(cls);
        return cls;
      });
      sections.forEach((cls, k) => {
        const teacher = teachers[k % teachers.length];
        if (teacher) {
          enroll(teacher, cls, "teacher", true);
        }
      });
      students.forEach((student, i) => enroll(student, sections[i % count]!, "student", true));
    });
  }
  return district;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
