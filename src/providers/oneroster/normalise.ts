// OneRoster 1.1 / 1.2 records → the provider-neutral shapes of src/providers/types.ts. Tolerant of
// the dialects seen in the wild: `enabledUser` as a boolean or "true"/"false", `grades` as an array
// or a comma-separated string, 1.2's `roles[]` instead of `role`, orgs as refs or bare ids.
import { text } from "../fields.js";
import type { GroupType, RosterGroup, RosterUser } from "../types.js";
import type { OneRosterRecord } from "./paging.js";

function ref(value: unknown): string | undefined {
  if (typeof value === "object" && value !== null) {
    return text((value as Record<string, unknown>).sourcedId);
  }
  return text(value);
}

/** 1.1 `role`, else 1.2's primary entry of `roles[]` (else its first). */
function primaryRole(record: Record<string, unknown>): string | undefined {
  const role = text(record.role);
  if (role) {
    return role;
  }
  if (!Array.isArray(record.roles)) {
    return undefined;
  }
  const roles = record.roles.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null);
  const primary = roles.find((r) => text(r.roleType)?.toLowerCase() === "primary") ?? roles[0];
  return primary ? text(primary.role) : undefined;
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
    role: (primaryRole(record) ?? fallbackRole ?? "unknown").toLowerCase(),
    username: text(record.username),
    email: text(record.email),
    givenName: text(record.givenName),
    familyName: text(record.familyName),
    grades: normaliseGrades(record.grades),
    orgs: normaliseOrgs(record.orgs),
    status: text(record.status)?.toLowerCase(),
    enabledUser: normaliseEnabled(record.enabledUser),
    raw: record,
  };
}

export function normaliseGroup(type: GroupType, record: OneRosterRecord): RosterGroup {
  return { type, sourcedId: record.sourcedId, fields: record };
}
