// The OneRoster 1.1 CSV tables this connector reads (IMS OneRoster v1.1 CSV Tables, §3): each file's
// columns, the fields a row must fill, and the enumerated fields. Headers are case-sensitive, columns
// in any order. The spec wants the full header even for blank columns and a value in every required
// field; how strictly each rule is held depends on whether the sync reads the column (needs.ts).
// Extra columns (such as `metadata.*` extensions) are ignored unless a mapping names one.

export type TableName = "orgs" | "users" | "courses" | "classes" | "enrollments" | "academicSessions";

export interface TableSpec {
  file: string;
  columns: readonly string[];
  /** Fields that must not be blank (the spec's "Required: Yes"). */
  required: readonly string[];
  /** Fields limited to a vocabulary; blank is allowed unless the field is also required. Compared
   * ignoring case; `ext:` values are the spec's extension point where it allows one. */
  enums: Readonly<
    Record<
      string,
      {
        values: readonly string[];
        extensible?: boolean;
        /** A value outside the vocabulary changes who is a member: always an error. */
        decides?: boolean;
      }
    >
  >;
}

const STATUS = { values: ["active", "tobedeleted"] };
const MEMBER_STATUS = { ...STATUS, decides: true };
const BOOLEAN = { values: ["true", "false"] };

export const TABLES: Record<TableName, TableSpec> = {
  orgs: {
    file: "orgs.csv",
    columns: ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
    required: ["sourcedId", "name", "type"],
    enums: {
      status: STATUS,
      type: {
        values: ["department", "school", "district", "local", "state", "national"],
        extensible: true,
      },
    },
  },
  academicSessions: {
    file: "academicSessions.csv",
    columns: [
      "sourcedId",
      "status",
      "dateLastModified",
      "title",
      "type",
      "startDate",
      "endDate",
      "parentSourcedId",
      "schoolYear",
    ],
    required: ["sourcedId", "title", "type", "startDate", "endDate", "schoolYear"],
    enums: {
      status: STATUS,
      type: { values: ["gradingPeriod", "semester", "schoolYear", "term"], extensible: true },
    },
  },
  courses: {
    file: "courses.csv",
    columns: [
      "sourcedId",
      "status",
      "dateLastModified",
      "schoolYearSourcedId",
      "title",
      "courseCode",
      "grades",
      "orgSourcedId",
      "subjects",
      "subjectCodes",
    ],
    required: ["sourcedId", "title", "orgSourcedId"],
    enums: { status: STATUS },
  },
  classes: {
    file: "classes.csv",
    columns: [
      "sourcedId",
      "status",
      "dateLastModified",
      "title",
      "grades",
      "courseSourcedId",
      "classCode",
      "classType",
      "location",
      "schoolSourcedId",
      "termSourcedIds",
      "subjects",
      "subjectCodes",
      "periods",
    ],
    required: ["sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"],
    enums: { status: STATUS, classType: { values: ["homeroom", "scheduled"], extensible: true } },
  },
  users: {
    file: "users.csv",
    columns: [
      "sourcedId",
      "status",
      "dateLastModified",
      "enabledUser",
      "orgSourcedIds",
      "role",
      "username",
      "userIds",
      "givenName",
      "familyName",
      "middleName",
      "identifier",
      "email",
      "sms",
      "phone",
      "agentSourcedIds",
      "grades",
      "password",
    ],
    required: ["sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"],
    enums: {
      status: MEMBER_STATUS,
      enabledUser: BOOLEAN,
      role: {
        values: ["administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"],
        extensible: true,
      },
    },
  },
  enrollments: {
    file: "enrollments.csv",
    columns: [
      "sourcedId",
      "status",
      "dateLastModified",
      "classSourcedId",
      "schoolSourcedId",
      "userSourcedId",
      "role",
      "primary",
      "beginDate",
      "endDate",
    ],
    required: ["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"],
    enums: {
      status: MEMBER_STATUS,
      role: { values: ["administrator", "proctor", "student", "teacher"], extensible: true },
      primary: BOOLEAN,
    },
  },
};

/** The data files a roster may be read from, in reading order (each one's references are read before it). */
export const REQUIRED_TABLES = [
  "orgs",
  "courses",
  "classes",
  "users",
  "enrollments",
] as const satisfies readonly TableName[];

/** What the sync reads of one file (worked out from the mappings in needs.ts). */
export interface TableUse {
  /** Columns the sync reads: a header without one is an error (other spec columns: a warning). */
  columns: ReadonlySet<string>;
  /** Columns a row must fill: blank is an error (other spec-required blanks: a warning). */
  values: ReadonlySet<string>;
}
