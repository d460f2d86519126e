// Clever API v3 records → the provider-neutral shapes of src/providers/types.ts.
//
// | RosterUser   | from the Clever user                                                            |
// | ------------ | ------------------------------------------------------------------------------- |
// | sourcedId    | `id`                                                                            |
// | role         | the role asked for (`?role=student`), else the first of `roles` in the order    |
// |              | student, teacher, staff, district_admin, contact; mapped by CLEVER_ROLES        |
// | givenName    | `name.first`                                                                    |
// | familyName   | `name.last`                                                                     |
// | email        | `email`                                                                         |
// | username     | `roles.<role>.credentials.district_username`, else the local part of `email`    |
// | grades       | `roles.student.grade`, normalised to OneRoster's codes by normaliseGrade        |
// | orgs         | `roles.<role>.schools` (then `school`, if missing from it); else `district`     |
// | status       | "active": Clever shares only active users; one dropped by the SIS disappears    |
// | enabledUser  | true: Clever has no disabled flag; a disabled account is not shared at all     |
// | raw          | the record, plus the role's scalar fields (sis_id, student_number, …) on top    |
//
// Groups keep the record in `fields` with `sourcedId` = `id`; sections and courses also get `title`
// = `name`, so the default matchGroupsBy [sourcedId, name, title] and a OneRoster-style
// `matchOn: [title]` both work.
import { object, text } from "../fields.js";
import type { GroupType, RosterGroup, RosterUser } from "../types.js";
import type { CleverRecord } from "./paging.js";

/** Clever role → the OneRoster role roster-sync uses (SPEC §5 events carry it). */
export const CLEVER_ROLES: Readonly<Record<string, string>> = {
  student: "student",
  teacher: "teacher",
  // School admins and other school staff.
  staff: "administrator",
  district_admin: "administrator",
  // Refined by `relationship` (Parent, Guardian, …) where it names a OneRoster role.
  contact: "guardian",
};

/** Which role a multi-role user is given when the request did not ask for one. */
const ROLE_ORDER = ["student", "teacher", "staff", "district_admin", "contact"] as const;

const CONTACT_ROLES = new Set(["parent", "guardian", "relative"]);

/**
 * Clever's grade vocabulary → the CEDS / OneRoster codes the OneRoster connectors report. Keys are
 * lower case without spaces, dashes or underscores. Numbers 1–13 become "01"–"13".
 */
const GRADE_WORDS: Readonly<Record<string, string>> = {
  infanttoddler: "IT",
  preschool: "PR",
  prekindergarten: "PK",
  transitionalkindergarten: "TK",
  kindergarten: "KG",
  k: "KG",
  postgraduate: "PS",
  ungraded: "UG",
  other: "Other",
};

const CEDS_CODES = new Set(["IT", "PR", "PK", "TK", "KG", "PS", "UG"]);

/** One Clever grade as a OneRoster grade code; unknown values are kept, trimmed. */
export function normaliseGrade(value: unknown): string | undefined {
  const grade = text(value);
  if (grade === undefined) {
    return undefined;
  }
  if (/^\d{1,2}$/.test(grade)) {
    const n = Number(grade);
    return n >= 1 && n <= 13 ? String(n).padStart(2, "0") : grade;
  }
  const upper = grade.toUpperCase();
  if (CEDS_CODES.has(upper)) {
    return upper;
  }
  return GRADE_WORDS[grade.toLowerCase().replace(/[\s_-]+/g, "")] ?? grade;
}

/** `roles.student.grade` (a string in Clever; a list is tolerated) as OneRoster grade codes. */
export function normaliseGrades(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map(normaliseGrade).filter((g): g is string => g !== undefined);
}

function ids(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.map(text).filter((id): id is string => id !== undefined);
}

/** The role key the user is reported under: the one asked for, else the first Clever knows. */
function roleKey(roles: Record<string, unknown>, requested: string | undefined): string | undefined {
  if (requested !== undefined) {
    return requested;
  }
  return ROLE_ORDER.find((key) => object(roles[key]) !== undefined) ?? Object.keys(roles)[0];
}

function roleName(key: string | undefined, roleData: Record<string, unknown>): string {
  if (key === undefined) {
    return "unknown";
  }
  if (key === "contact") {
    const relationship = text(roleData.relationship)?.toLowerCase();
    if (relationship !== undefined && CONTACT_ROLES.has(relationship)) {
      return relationship;
    }
  }
  return CLEVER_ROLES[key] ?? key.toLowerCase();
}

function emailLocalPart(email: string | undefined): string | undefined {
  const at = email?.lastIndexOf("@") ?? -1;
  return at > 0 ? text(email!.slice(0, at)) : undefined;
}

/** The role's scalar fields (and lists of scalars), for `include` and `keyIdentifier` lookups. */
function scalarFields(roleData: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(roleData)) {
    const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
    if (scalar(value) || (Array.isArray(value) && value.every(scalar))) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * A Clever user as RosterUser. `requestedRole` is the Clever role of the request (`student` for
 * `?role=student`): a multi-role user is reported in the role it was listed under.
 */
export function normaliseUser(record: CleverRecord, requestedRole?: string): RosterUser {
  const roles = object(record.roles) ?? {};
  const key = roleKey(roles, requestedRole);
  const roleData = (key !== undefined ? object(roles[key]) : undefined) ?? {};
  const name = object(record.name) ?? {};
  const email = text(record.email);
  const credentials = object(roleData.credentials) ?? {};
  const schools = ids(roleData.schools);
  const primarySchool = text(roleData.school);
  if (primarySchool !== undefined && !schools.includes(primarySchool)) {
    schools.push(primarySchool);
  }
  const district = text(record.district);
  return {
    sourcedId: record.id,
    role: roleName(key, roleData),
    username: text(credentials.district_username) ?? emailLocalPart(email),
    email,
    givenName: text(name.first),
    familyName: text(name.last),
    grades: normaliseGrades(roleData.grade),
    orgs: schools.length > 0 ? schools : district !== undefined ? [district] : [],
    status: "active",
    enabledUser: true,
    raw: { ...scalarFields(roleData), ...record },
  };
}

export function normaliseGroup(type: GroupType, record: CleverRecord): RosterGroup {
  const fields: Record<string, unknown> = { ...record, sourcedId: record.id };
  if (type !== "schools" && fields.title === undefined && typeof record.name === "string") {
    fields.title = record.name;
  }
  return { type, sourcedId: record.id, fields };
}
