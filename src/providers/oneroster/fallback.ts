// Members and course classes from the top-level collections, for servers without nested endpoints
// (SPEC §3: some 1.2 servers serve only `/users`, `/classes`, `/enrollments`, …).
//
// - A class's members: `/enrollments` filtered by class and role, then those users.
// - A course's classes: `/classes` filtered by course.
// - A school's members: the user directory (`/users`), kept to those holding the role at the
//   school. That is exactly what `/schools/{id}/students` answers (users of the school, enrolled
//   in a class there or not), and the directory costs fewer pages than the school's enrollments
//   (several per student) would.
//
// Filters are what the version's binding names (below). A server that answers a filter with an
// HTTP error (400 usually; see isFilterRejection) does not understand it: that collection is then listed once, whole, and filtered here, for the
// rest of the cycle. Every filtered answer is also checked here, since some servers ignore an
// unknown filter and send everything.
//
// Users of enrollments are fetched one by one (`/users/{id}`) while that costs no more than
// listing the whole directory would, and the directory is listed (once) after that: the
// "rent or buy" rule, which never spends more than twice the cheaper of the two, without knowing
// in advance how many classes a cycle will resolve. The cost of the listing comes from
// X-Total-Count on a one-record page; a server that does not send it gets the listing at once.
// A user `/users/{id}` does not know is looked for in the listing before it is left out: servers of
// top-level collections only answer every `/users/{id}` with 404.
import type { Logger } from "pino";
import type { HttpClient, SearchParams } from "../http.js";
import type { ProgressFn, RosterUser, UserKind } from "../types.js";
import { Capabilities, httpStatus, isFilterRejection } from "./capabilities.js";
import { holdsRoleAt, normaliseUser } from "./normalise.js";
import { fetchAll, pageRecords, parseTotalCount, type OneRosterRecord } from "./paging.js";

/** Filter expressions of each version: 1.2 refers to a ref's sourcedId with a dot; 1.1 servers
 * (which rarely need this fallback) take the flattened CSV-style names. */
const FILTERS = {
  "1.1": { enrollmentClass: "classSourcedId", classCourse: "courseSourcedId" },
  "1.2": { enrollmentClass: "class.sourcedId", classCourse: "course.sourcedId" },
} as const;

/** The enrollment roles that make a user a member of each kind (the nested endpoints' meaning). */
const ROLES_OF_KIND: Record<UserKind, readonly ("student" | "teacher")[]> = {
  students: ["student"],
  teachers: ["teacher"],
  users: ["student", "teacher"],
};

export interface TopLevelOptions {
  http: HttpClient;
  providerName: string;
  version: "1.1" | "1.2";
  pageSize: number;
  /** providers.*.maxRecords: the most records one collection may hold. */
  maxRecords: number;
  logger?: Logger | undefined;
  /** What is known of `filter` per collection, shared with the connector's group lookups. */
  filters?: Capabilities;
}

const refId = (value: unknown): string | undefined => {
  const id =
    typeof value === "object" && value !== null ? (value as { sourcedId?: unknown }).sourcedId : undefined;
  return typeof id === "string" ? id : undefined;
};

/** The filter grammar has no escape for `'`: such a value is filtered client-side. */
const quotable = (value: string): boolean => !value.includes("'");

const enrollmentRole = (enrollment: OneRosterRecord): string => String(enrollment.role).toLowerCase();

const isActiveRecord = (record: OneRosterRecord): boolean =>
  typeof record.status !== "string" || record.status.toLowerCase() !== "tobedeleted";

export class TopLevelCollections {
  readonly #o: TopLevelOptions;
  /** Per collection: does the server take our `filter`? (No: it answered with an error, see isFilterRejection.) */
  readonly #filters: Capabilities;
  /** Whole collections listed for client-side filtering, once each. */
  readonly #listings = new Map<string, Promise<OneRosterRecord[]>>();
  #directory: Promise<Map<string, OneRosterRecord>> | undefined;
  readonly #single = new Map<string, Promise<OneRosterRecord | undefined>>();
  #directoryPages: Promise<number | undefined> | undefined;
  /** Users fetched (or being fetched) one by one so far. */
  #singles = 0;

  constructor(options: TopLevelOptions) {
    this.#o = options;
    this.#filters =
      options.filters ??
      new Capabilities((collection, error) => {
        this.#o.logger?.warn(
          { provider: this.#o.providerName, collection, status: httpStatus(error) },
          "provider rejected the filter; listing the whole collection once and filtering here",
        );
      });
  }

  /** Members of a class of the kind, as `/classes/{id}/students|teachers` would give them. */
  async classMembers(classId: string, kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    const roles = ROLES_OF_KIND[kind];
    const field = FILTERS[this.#o.version].enrollmentClass;
    const filter = quotable(classId)
      ? roles.length === 1
        ? `${field}='${classId}' AND role='${roles[0]}'`
        : `${field}='${classId}'`
      : undefined;
    const enrollments = await this.#filtered(
      "enrollments",
      field,
      filter,
      (e) => refId(e.class) === classId && roles.some((role) => role === enrollmentRole(e)),
      onProgress,
    );
    // Each user once (with the role of its first enrollment), as a nested endpoint lists them.
    const wanted = new Map<string, string>();
    for (const e of enrollments) {
      const userId = refId(e.user);
      if (userId !== undefined && isActiveRecord(e) && !wanted.has(userId)) {
        wanted.set(userId, enrollmentRole(e));
      }
    }
    const users = await this.users([...wanted.keys()], onProgress);
    return [...wanted].flatMap(([id, role]) => {
      const record = users.get(id);
      return record ? [normaliseUser(record, role)] : [];
    });
  }

  /** Members of a school of the kind, as `/schools/{id}/students|teachers` would give them. */
  async schoolMembers(schoolId: string, kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    const directory = await this.#listDirectory(onProgress);
    const roles = ROLES_OF_KIND[kind];
    return [...directory.values()]
      .map((record) => normaliseUser(record))
      .filter((user) => roles.some((role) => holdsRoleAt(user, role, schoolId)));
  }

  /** The classes of a course, as `/courses/{id}/classes` would give them. */
  courseClasses(courseId: string, onProgress?: ProgressFn): Promise<OneRosterRecord[]> {
    const field = FILTERS[this.#o.version].classCourse;
    return this.#filtered(
      "classes",
      field,
      quotable(courseId) ? `${field}='${courseId}'` : undefined,
      (c) => refId(c.course) === courseId,
      onProgress,
    );
  }

  /** User records by sourcedId; an id the server does not know is left out (and logged). */
  async users(ids: string[], onProgress?: ProgressFn): Promise<Map<string, OneRosterRecord>> {
    const fresh = ids.filter((id) => !this.#single.has(id));
    if (!this.#directory && fresh.length > 0) {
      const pages = await this.#directorySize();
      if (!this.#directory && pages !== undefined && this.#singles + fresh.length <= pages) {
        this.#singles += fresh.length;
        for (const id of fresh) {
          this.#single.set(id, this.#getUser(id));
        }
      }
    }
    const found = new Map<string, OneRosterRecord>();
    if (!this.#directory && ids.every((id) => this.#single.has(id))) {
      const records = await Promise.all(ids.map((id) => this.#single.get(id)!));
      records.forEach((record, i) => record && found.set(ids[i]!, record));
    }
    if (found.size < ids.length) {
      // A user an enrollment names but `users/{id}` does not know is looked for in the directory:
      // servers of top-level collections only answer every `users/{id}` with 404.
      const directory = await this.#listDirectory(onProgress);
      for (const id of ids) {
        const record = directory.get(id);
        if (record) {
          found.set(id, record);
        }
      }
    }
    if (found.size < ids.length) {
      this.#o.logger?.warn(
        { provider: this.#o.providerName, missing: ids.filter((id) => !found.has(id)).slice(0, 10) },
        "enrollments name users the provider does not have; they are left out",
      );
    }
    return found;
  }

  /**
   * Records of `collection` that `matches`: asked of the server with `filter` (on `field`), or
   * filtered here after the server refused a filter on that field (or when there is no `filter`: a
   * value the filter grammar cannot quote). What a server takes is known per collection and field:
   * one that filters classes by title may still refuse `courseSourcedId`.
   */
  async #filtered(
    collection: string,
    field: string,
    filter: string | undefined,
    matches: (record: OneRosterRecord) => boolean,
    onProgress?: ProgressFn,
  ): Promise<OneRosterRecord[]> {
    const listed = async () => (await this.#listing(collection, onProgress)).filter(matches);
    if (filter === undefined) {
      return listed();
    }
    return this.#filters.run(
      `${collection}?${field}`,
      async () => (await this.#fetch(collection, collection, { filter }, onProgress)).filter(matches),
      listed,
      (error) => Promise.resolve(isFilterRejection(error)),
    );
  }

  #listing(collection: string, onProgress?: ProgressFn): Promise<OneRosterRecord[]> {
    let listing = this.#listings.get(collection);
    if (!listing) {
      listing = this.#fetch(collection, collection, undefined, onProgress);
      this.#listings.set(collection, listing);
    }
    return listing;
  }

  #listDirectory(onProgress?: ProgressFn): Promise<Map<string, OneRosterRecord>> {
    this.#directory ??= this.#listing("users", onProgress).then(
      (records) => new Map(records.map((r) => [r.sourcedId, r])),
    );
    return this.#directory;
  }

  /** Pages a whole `/users` listing takes, from X-Total-Count of a one-record page; undefined if unsent. */
  #directorySize(): Promise<number | undefined> {
    this.#directoryPages ??= this.#o.http.getJson("users", { limit: 1, offset: 0 }).then((response) => {
      pageRecords(response, "users", this.#o.providerName);
      const total = parseTotalCount(response.headers["x-total-count"]);
      return total === undefined ? undefined : Math.max(1, Math.ceil(total / this.#o.pageSize));
    });
    return this.#directoryPages;
  }

  async #getUser(id: string): Promise<OneRosterRecord | undefined> {
    try {
      const response = await this.#o.http.getJson(`users/${encodeURIComponent(id)}`);
      const body = response.body as Record<string, unknown> | null;
      // `{ "user": {…} }`; checked as a one-record page.
      const wrapped = { ...response, body: { user: [body?.user] } };
      return pageRecords(wrapped, "user", this.#o.providerName)[0];
    } catch (error) {
      if (httpStatus(error) === 404) {
        return undefined;
      }
      throw error;
    }
  }

  #fetch(
    path: string,
    key: string,
    params: SearchParams | undefined,
    onProgress?: ProgressFn,
  ): Promise<OneRosterRecord[]> {
    return fetchAll(this.#o.http, {
      providerName: this.#o.providerName,
      path,
      key,
      pageSize: this.#o.pageSize,
      maxRecords: this.#o.maxRecords,
      onProgress,
      ...(params ? { params } : {}),
    });
  }
}
