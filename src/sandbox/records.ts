// OneRoster 1.1 record shapes as the sandbox serves them (IMS OneRoster 1.1 REST binding). Booleans
// such as `enabledUser` and `primary` are the strings "true"/"false", as 1.1 sends them. Refs are
// shared objects (one per target record), so a reference costs a pointer, not a copy.

export const API_PREFIX = "/ims/oneroster/v1p1/";

export type Status = "active" | "tobedeleted";
export type RefType = "org" | "user" | "class" | "course" | "academicSession";

export interface Ref {
  href: string;
  sourcedId: string;
  type: RefType;
}

interface Base {
  sourcedId: string;
  status: Status;
  dateLastModified: string;
  metadata?: Record<string, unknown>;
}

export interface OrgRecord extends Base {
  name: string;
  type: "district" | "school";
  identifier: string;
  parent: Ref | null;
  children: Ref[];
}

export interface AcademicSessionRecord extends Base {
  title: string;
  type: "schoolYear" | "semester" | "term";
  startDate: string;
  endDate: string;
  parent: Ref | null;
  children: Ref[];
  schoolYear: string;
}

export interface CourseRecord extends Base {
  title: string;
  schoolYear: Ref;
  courseCode: string;
  grades: string[];
  subjects: string[];
  org: Ref;
}

export interface ClassRecord extends Base {
  title: string;
  classCode: string;
  classType: "scheduled" | "homeroom";
  location: string;
  grades: string[];
  subjects: string[];
  course: Ref;
  school: Ref;
  terms: Ref[];
  periods: string[];
}

export type UserRole = "student" | "teacher" | "administrator";

export interface UserRecord extends Base {
  username: string;
  userIds: { type: string; identifier: string }[];
  enabledUser: "true" | "false";
  givenName: string;
  familyName: string;
  middleName: string;
  role: UserRole;
  identifier: string;
  email: string;
  sms: string;
  phone: string;
  agents: Ref[];
  orgs: Ref[];
  grades: string[];
  [extra: string]: unknown;
}

export interface EnrollmentRecord extends Base {
  user: Ref;
  class: Ref;
  school: Ref;
  role: "student" | "teacher";
  primary: "true" | "false";
  beginDate: string;
  endDate: string;
}

/** The collections of a district, by their OneRoster path segment. */
export interface Collections {
  orgs: OrgRecord[];
  academicSessions: AcademicSessionRecord[];
  courses: CourseRecord[];
  classes: ClassRecord[];
  users: UserRecord[];
  enrollments: EnrollmentRecord[];
}

const REF_PATH: Record<RefType, string> = {
  org: "orgs",
  user: "users",
  class: "classes",
  course: "courses",
  academicSession: "academicSessions",
};

/** A ref whose href is the record's path on the sandbox (absolute path, host-independent). */
export function makeRef(type: RefType, sourcedId: string): Ref {
  return { href: `${API_PREFIX}${REF_PATH[type]}/${encodeURIComponent(sourcedId)}`, sourcedId, type };
}
