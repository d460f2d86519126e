// The nouns every layer shares, with no I/O: `store/`, `sync/` and `events/` import them from here,
// so none of them has to import another for a type (the store once imported `Member` from `sync/`,
// which imports the store: a cycle).
//
// A member of a mapping as stored in the snapshot and carried by events (SPEC §5).
// `key` is the value of the provider's keyIdentifier; the other fields are the tracked attributes.

export interface Member {
  key: string;
  sourcedId: string;
  role: string;
  username: string | null;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  grades: string[];
  orgs: string[];
}

/** The attributes whose change is an `update` event. */
export const TRACKED_ATTRIBUTES = [
  "email",
  "username",
  "givenName",
  "familyName",
  "role",
  "grades",
  "orgs",
] as const;

/** The `user` object of an event: a member without its internal key. */
export function eventUser(member: Member): Omit<Member, "key"> {
  const { key: _key, ...user } = member;
  return user;
}
