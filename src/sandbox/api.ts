// The OneRoster 1.1 rostering endpoints, as a pure lookup from a path (below /ims/oneroster/v1p1/)
// to the records it names. Paging, filters, auth and faults are the server's business.
import type { District } from "./roster.js";

export type Resolved =
  | { kind: "list"; key: string; records: readonly object[]; fields: ReadonlySet<string> }
  | { kind: "single"; key: string; record: object }
  | { kind: "missing"; description: string };

const fieldSet = (...names: string[]): ReadonlySet<string> =>
  new Set(["sourcedId", "status", "dateLastModified", "metadata", ...names]);

const FIELDS = {
  orgs: fieldSet("name", "type", "identifier", "parent", "children"),
  academicSessions: fieldSet("title", "type", "startDate", "endDate", "parent", "children", "schoolYear"),
  courses: fieldSet("title", "schoolYear", "courseCode", "grades", "subjects", "org"),
  classes: fieldSet(
    "title",
    "classCode",
    "classType",
    "location",
    "grades",
    "subjects",
    "course",
    "school",
    "terms",
    "periods",
  ),
  users: fieldSet(
    "username",
    "userIds",
    "enabledUser",
    "givenName",
    "familyName",
    "middleName",
    "role",
    "identifier",
    "email",
    "sms",
    "phone",
    "agents",
    "orgs",
    "grades",
  ),
  enrollments: fieldSet("user", "class", "school", "role", "primary", "beginDate", "endDate"),
};

/** Envelope keys: the collection's plural for lists, singular for one record. */
const KEYS = {
  orgs: ["orgs", "org"],
  academicSessions: ["academicSessions", "academicSession"],
  courses: ["courses", "course"],
  classes: ["classes", "class"],
  users: ["users", "user"],
  enrollments: ["enrollments", "enrollment"],
} as const;
type Kind = keyof typeof KEYS;

const list = (kind: Kind, records: readonly object[]): Resolved => ({
  kind: "list",
  key: KEYS[kind][0],
  records,
  fields: FIELDS[kind],
});
const single = (kind: Kind, record: object | undefined, what: string): Resolved =>
  record ? { kind: "single", key: KEYS[kind][1], record } : { kind: "missing", description: `no ${what}` };

/** Route template of a path, for per-route counters: "classes/cls-01-0001/students" → "classes/{id}/students". */
export function routeOf(segments: string[]): string {
  return segments.map((s, i) => (i % 2 === 1 ? "{id}" : s)).join("/");
}

/** Resolves the path segments below the API prefix, or undefined when no endpoint has that shape. */
export function resolve(district: District, segments: string[]): Resolved | undefined {
  const [collection, id, sub, subId, subSub] = segments;
  if (segments.length === 1) {
    switch (collection) {
      case "orgs":
        return list("orgs", district.orgs);
      case "schools":
        return list("orgs", district.schools());
      case "academicSessions":
        return list("academicSessions", district.academicSessions);
      case "terms":
        return list("academicSessions", district.terms());
      case "courses":
        return list("courses", district.courses);
      case "classes":
        return list("classes", district.classes);
      case "users":
        return list("users", district.users);
      case "students":
        return list("users", district.usersWithRole("student"));
      case "teachers":
        return list("users", district.usersWithRole("teacher"));
      case "enrollments":
        return list("enrollments", district.enrollments);
      default:
        return undefined;
    }
  }
  if (id === undefined) {
    return undefined;
  }
  if (segments.length === 2) {
    switch (collection) {
      case "orgs":
        return single("orgs", district.org(id), `org ${id}`);
      case "schools":
        return single("orgs", district.school(id), `school ${id}`);
      case "academicSessions":
        return single("academicSessions", district.academicSession(id), `academicSession ${id}`);
      case "terms": {
        const term = district.academicSession(id);
        return single("academicSessions", term?.type === "term" ? term : undefined, `term ${id}`);
      }
      case "courses":
        return single("courses", district.course(id), `course ${id}`);
      case "classes":
        return single("classes", district.class(id), `class ${id}`);
      case "users":
        return single("users", district.user(id), `user ${id}`);
      case "students":
      case "teachers": {
        const user = district.user(id);
        const role = collection === "students" ? "student" : "teacher";
        return single("users", user?.role === role ? user : undefined, `${role} ${id}`);
      }
      case "enrollments":
        return single("enrollments", district.enrollment(id), `enrollment ${id}`);
      default:
        return undefined;
    }
  }
  if (segments.length === 3) {
    return nested(district, collection!, id, sub!);
  }
  // schools/{id}/classes/{id}/students|teachers|enrollments
  if (segments.length === 5 && collection === "schools" && sub === "classes" && subId !== undefined) {
    const cls = district.class(subId);
    if (!district.school(id) || !cls || cls.school.sourcedId !== id) {
      return { kind: "missing", description: `no class ${subId} in school ${id}` };
    }
    return nested(district, "classes", subId, subSub!);
  }
  return undefined;
}

function nested(district: District, collection: string, id: string, sub: string): Resolved | undefined {
  switch (`${collection}/${sub}`) {
    case "courses/classes":
      return district.course(id)
        ? list("classes", district.courseClasses(id))
        : { kind: "missing", description: `no course ${id}` };
    case "classes/students":
    case "classes/teachers":
    case "classes/enrollments": {
      if (!district.class(id)) {
        return { kind: "missing", description: `no class ${id}` };
      }
      return sub === "enrollments"
        ? list("enrollments", district.classEnrollments(id))
        : list("users", district.classUsers(id, sub === "students" ? "student" : "teacher"));
    }
    case "schools/students":
    case "schools/teachers":
    case "schools/classes":
    case "schools/courses":
    case "schools/enrollments":
    case "schools/terms": {
      if (!district.school(id)) {
        return { kind: "missing", description: `no school ${id}` };
      }
      switch (sub) {
        case "students":
          return list("users", district.schoolUsers(id, "student"));
        case "teachers":
          return list("users", district.schoolUsers(id, "teacher"));
        case "classes":
          return list("classes", district.schoolClasses(id));
        case "courses":
          return list("courses", district.schoolCourses(id));
        case "enrollments":
          return list("enrollments", district.schoolEnrollments(id));
        default:
          return list("academicSessions", district.terms());
      }
    }
    case "students/classes":
    case "teachers/classes":
    case "users/classes": {
      const user = district.user(id);
      const role = collection === "students" ? "student" : collection === "teachers" ? "teacher" : undefined;
      if (!user || (role && user.role !== role)) {
        return { kind: "missing", description: `no ${role ?? "user"} ${id}` };
      }
      return list("classes", district.userClasses(id));
    }
    case "terms/classes": {
      const term = district.academicSession(id);
      if (!term || term.type !== "term") {
        return { kind: "missing", description: `no term ${id}` };
      }
      return list(
        "classes",
        district.classes.filter((c) => c.terms.some((t) => t.sourcedId === id)),
      );
    }
    default:
      return undefined;
  }
}
