// The one interface every connector implements (OneRoster REST, ClassLink, Clever, CSV). A connector
// turns its API into groups and users in this shape; paging, auth and rate limits stay inside it.
// Group matching, de-duplication and filtering are done once, in src/sync/resolve.ts.

export type GroupType = "classes" | "courses" | "schools";
export type UserKind = "students" | "teachers" | "users";

/** A class, course or school as the provider describes it. `fields` holds the raw record. */
export interface RosterGroup {
  type: GroupType;
  sourcedId: string;
  fields: Record<string, unknown>;
}

/** A user normalised from the provider's record. `raw` keeps every field for `include` and `keyIdentifier`. */
export interface RosterUser {
  sourcedId: string;
  /** Normalised role: student, teacher, administrator, aide, guardian, parent, … (lower case). */
  role: string;
  username: string | undefined;
  email: string | undefined;
  givenName: string | undefined;
  familyName: string | undefined;
  grades: string[];
  /** sourcedIds of the user's orgs (schools, district). */
  orgs: string[];
  /** `active` | `tobedeleted` | … as sent, lower case; undefined when absent. */
  status: string | undefined;
  /** False when the provider says the user is disabled (`enabledUser: "false"` or false). */
  enabledUser: boolean;
  raw: Record<string, unknown>;
}

/** Counters of one connector's HTTP traffic, read for the run summary and (later) metrics. */
export interface ProviderStats {
  requests: number;
  retries: number;
  status429: number;
}

/** Progress callback: called after each page with THAT page's counts, `{ pages: 1, records: n }` (increments,
 * since fetches run concurrently; the run sums them and logs at most once a second). */
export type ProgressFn = (progress: { pages: number; records: number }) => void;

/** What a mapping's group spec looks for: `match` compared with each `matchOn` field (SPEC §3). */
export interface GroupQuery {
  type: GroupType;
  match: string;
  matchOn: readonly string[];
}

export interface Provider {
  readonly name: string;
  readonly stats: ProviderStats;
  /** Every group of a type (used to find the groups a mapping's `match` selects). */
  listGroups(type: GroupType, onProgress?: ProgressFn): Promise<RosterGroup[]>;
  /**
   * Groups that may match `query`, asked of the provider (a server-side `filter`) instead of
   * listing every group: a superset of the matching groups as far as the provider's filter
   * reaches, which the caller re-checks with its own matching. Undefined when the provider cannot
   * ask that question (no filter support, a field it cannot filter on, a value it cannot quote, or
   * the server refused a filter before): the caller lists the groups instead. Optional.
   */
  findGroups?(query: GroupQuery, onProgress?: ProgressFn): Promise<RosterGroup[] | undefined>;
  /** The classes of a course. */
  courseClasses(courseSourcedId: string, onProgress?: ProgressFn): Promise<RosterGroup[]>;
  /** Users of a class or school, of the given kind (`students` or `teachers`; `users` = both). */
  groupMembers(
    group: { type: "classes" | "schools"; sourcedId: string },
    kind: UserKind,
    onProgress?: ProgressFn,
  ): Promise<RosterUser[]>;
  /** Every user of the kind in the whole directory. */
  allUsers(kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]>;
  /** Checks credentials with the cheapest authenticated request; throws a ProviderError when unusable. */
  check(): Promise<void>;
  /** Problems in the provider's data that the sync does not depend on, found by the last fetch or
   * check: how many, and the first few with their place (file:line). Optional (CSV bundles). */
  tolerated?(): { count: number; shown: readonly string[] };
  close(): Promise<void>;
}
