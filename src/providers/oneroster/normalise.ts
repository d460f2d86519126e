// OneRoster 1.1 / 1.2 records → the provider-neutral shapes of src/providers/types.ts. Tolerant of
// the dialects seen in the wild: `enabledUser` as a boolean or "true"/"false", `grades` as an array
// or a comma-separated string, orgs as refs or bare ids. 1.2 users carry no `role` or `orgs`: the
// role is the primary entry of `roles[]` (`{roleType, role, org}`), and the orgs are those of
// `orgs` (kept by some servers), then of `roles[].org`, then `primaryOrg`, each once, in that order.
// 1.2 splits `administrator` into district/site/system administrators: they become `administrator`,
// so that a mapping, a diff and an event read the same whichever version the server speaks.
import { text } from "../fields.js";
import type { GroupType, RosterGroup, RosterUser } from "../types.js";
import type { OneRosterRecord } from "./paging.js";

function ref(value: unknown): string | undefined {
  if (typeof value === "object" && value !== null) {
    return text((value as Record<string, unknown>).sourcedId);
  }
  return text(value);
}

/** 1.2 role names that mean what 1.1 (and Clever's staff / district_admin) call `administrator`. */
const ADMINISTRATOR_ROLES: ReadonlySet<string> = new Set([
  "districtadministrator",
  "siteadministrator",
  "systemadministrator",
]);

/** A 1.2 role name in our vocabulary: lower case, the administrator family as `administrator`. */
export function normaliseRole(role: string): string {
  const lower = role.toLowerCase();
  return ADMINISTRATOR_ROLES.has(lower) ? "administrator" : lower;
}

/** The objects of 1.2's `roles[]`; anything else in the array is ignored. */
function roleEntries(record: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(record.roles)
    ? record.roles.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null)
    : [];
}

/** 1.1 `role`, else 1.2's primary entry of `roles[]` (else its first). */
function primaryRole(record: Record<string, unknown>): string | undefined {
  const role = text(record.role);
  if (role) {
    return role;
  }
  const roles = roleEntries(record);
  const primary = roles.find((r) => text(r.roleType)?.toLowerCase() === "primary") ?? roles[0];
  return primary ? text(primary.role) : undefined;
}

/** `orgs`, then the orgs of `roles[]`, then `primaryOrg`: each sourcedId once, first place kept. */
function userOrgs(record: Record<string, unknown>): string[] {
  const ids = [
    ...normaliseOrgs(record.orgs),
    ...normaliseOrgs(roleEntries(record).map((r) => r.org)),
    ...normaliseOrgs(record.primaryOrg),
  ];
  return [...new Set(ids)];
}

/**
 * True when the user holds `role` at `orgId`: a 1.2 `roles[]` entry says so, or (1.1, or a record
 * without `roles[]`) the user's role is `role` and its orgs include `orgId`. This is what a
 * server's `/schools/{id}/students` answers; the enrollments fallback decides with it.
 */
export function holdsRoleAt(user: RosterUser, role: string, orgId: string): boolean {
  const entries = roleEntries(user.raw);
  if (entries.length > 0) {
    return entries.some(
      (r) => normaliseOrgs(r.org)[0] === orgId && normaliseRole(text(r.role) ?? "") === role,
    );
  }
  return user.role === role && user.orgs.includes(orgId);
}

export function normaliseGrades(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [value];
  return items.map(text).filter((g): g is string => g !== undefined);
}

export function normaliseOrgs(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.map(ref).filter((id): id is string => id !== undefined);
}

/** False only when the provider says so: `false`, "false" (any case), 0 or "0". Missing means enabled. */
export function normaliseEnabled(value: unknown): boolean {
  if (value === false || value === 0) {
    return false;
  }
  if (typeof value === "string") {
    return !["false", "0", "no"].includes(value.trim().toLowerCase());
  }
  return true;
}

/**
 * A user record as RosterUser. `fallbackRole` is the role implied by the endpoint (`student` for
 * `/students`) when the record carries none; otherwise `unknown`.
 */
export function normaliseUser(record: OneRosterRecord, fallbackRole?: string): RosterUser {
  return {
    sourcedId: record.sourcedId,
    role: normaliseRole(primaryRole(record) ?? fallbackRole ?? "unknown"),
    username: text(record.username),
    email: text(record.email),
    givenName: text(record.givenName),
    familyName: text(record.familyName),
    grades: normaliseGrades(record.grades),
    orgs: userOrgs(record),
    status: text(record.status)?.toLowerCase(),
    enabledUser: normaliseEnabled(record.enabledUser),
    raw: record,
  };
}

export function normaliseGroup(type: GroupType, record: OneRosterRecord): RosterGroup {
  return { type, sourcedId: record.sourcedId, fields: record };
}
