// Who is a member (SPEC §3), as pure functions: group matching, the include filter, the status
// rules, and turning a provider's user into a snapshot member.
import type { RosterGroup, RosterUser } from "../providers/types.js";
import type { Member } from "../domain.js";

const norm = (value: string) => value.trim().toLowerCase();

/** A group matches when any `matchOn` field, trimmed and ignoring case, equals `match`. */
export function groupMatches(group: RosterGroup, match: string, matchOn: readonly string[]): boolean {
  const wanted = norm(match);
  return matchOn.some((field) => {
    const value = field === "sourcedId" ? group.sourcedId : group.fields[field];
    return typeof value === "string" && norm(value) === wanted;
  });
}

/** `tobedeleted` and disabled users are never members. */
export function isActive(user: RosterUser): boolean {
  return user.status !== "tobedeleted" && user.enabledUser;
}

function fieldValues(user: RosterUser, field: string): string[] {
  const normalised: Record<string, unknown> = {
    grades: user.grades,
    orgs: user.orgs,
    role: user.role,
    sourcedId: user.sourcedId,
  };
  const value = field in normalised ? normalised[field] : user.raw[field];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") {
      out.push(String(item));
    } else if (item && typeof item === "object" && "sourcedId" in item) {
      out.push(String((item as { sourcedId: unknown }).sourcedId));
    }
  }
  return out;
}

/** A user passes when, for every key, the field (or any element of a list field) equals a listed value. */
export function passesInclude(user: RosterUser, include: Record<string, string[]> | undefined): boolean {
  if (!include) {
    return true;
  }
  return Object.entries(include).every(([field, allowed]) => {
    const wanted = new Set(allowed.map(norm));
    return fieldValues(user, field).some((v) => wanted.has(norm(v)));
  });
}

/**
 * The `include` keys that none of `users` has a value for. Such a key filters out everyone: most
 * likely a misspelt key or a provider that does not send the field, rarely a group that really has
 * nobody to include, so an empty roster that comes of it is an error, not a roster (SPEC §3's rule
 * for a group that matched nothing).
 */
export function includeKeysAbsent(
  users: Iterable<RosterUser>,
  include: Record<string, string[]> | undefined,
): string[] {
  if (!include) {
    return [];
  }
  const absent = new Set(Object.keys(include));
  for (const user of users) {
    for (const field of absent) {
      if (fieldValues(user, field).some((v) => v.trim() !== "")) {
        absent.delete(field);
      }
    }
    if (absent.size === 0) {
      break;
    }
  }
  return [...absent];
}

/** The keyIdentifier's value, or undefined when the record lacks it. */
export function userKey(user: RosterUser, keyIdentifier: string): string | undefined {
  const known: Record<string, string | undefined> = {
    sourcedId: user.sourcedId,
    username: user.username,
    email: user.email,
  };
  const value = keyIdentifier in known ? known[keyIdentifier] : user.raw[keyIdentifier];
  if (typeof value === "number") {
    return String(value);
  }
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

export function toMember(user: RosterUser, key: string): Member {
  return {
    key,
    sourcedId: user.sourcedId,
    role: user.role,
    username: user.username ?? null,
    email: user.email ?? null,
    givenName: user.givenName ?? null,
    familyName: user.familyName ?? null,
    grades: [...user.grades],
    orgs: [...user.orgs],
  };
}
