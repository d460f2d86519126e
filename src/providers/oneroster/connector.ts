// The OneRoster 1.1 / 1.2 REST connector (and ClassLink, which is 1.1 with OAuth1). It maps the
// Provider interface onto the rostering endpoints; paging lives in paging.ts, auth, rate limits and
// retries in ../http.ts, record shapes (1.1 and 1.2) in normalise.ts. Where a server lacks the
// nested endpoints (some 1.2 servers), capabilities.ts notices once and fallback.ts answers from the
// top-level collections instead.
import type { Logger } from "pino";
import { oneRosterBaseUrl, type ProviderConfig } from "../../config/schema.js";
import { createHttpClient, type HttpClient, type SearchParams } from "../http.js";
import type {
  GroupQuery,
  GroupType,
  ProgressFn,
  Provider,
  ProviderStats,
  RosterGroup,
  RosterUser,
  UserKind,
} from "../types.js";
import { TopLevelCollections } from "./fallback.js";
import { Capabilities, httpStatus, isFilterRejection, isMissingEndpoint } from "./capabilities.js";
import { groupFilter } from "./groups.js";
import { normaliseGroup, normaliseUser } from "./normalise.js";
import { fetchAll, pageRecords, type OneRosterRecord } from "./paging.js";

/** Collection path and envelope key of each group type (`/schools` answers with `orgs`). */
const GROUP_COLLECTIONS = {
  classes: { path: "classes", key: "classes" },
  courses: { path: "courses", key: "courses" },
  schools: { path: "schools", key: "orgs" },
} as const satisfies Record<GroupType, { path: string; key: string }>;

/** The role a record of each member endpoint has when it does not say. */
const ROLE_OF_KIND = { students: "student", teachers: "teacher" } as const;

export interface OneRosterConnectorOptions {
  logger?: Logger | undefined;
  /** Default: createHttpClient(config, { logger }). */
  http?: HttpClient;
}

export class OneRosterConnector implements Provider {
  readonly name: string;
  readonly #config: ProviderConfig;
  readonly #http: HttpClient;
  readonly #logger: Logger | undefined;
  /** Which nested endpoints this server has, learnt during this connector's (one run's) life. */
  readonly nested: Capabilities;
  readonly #topLevel: TopLevelCollections;
  /** Per collection: does the server take our `filter`? (No: it answered a filtered request with an error, see isFilterRejection.) Shared by the
   * group lookups and the top-level fallback, so a collection is refused once per run. */
  readonly #filters: Capabilities;
  /** `type/sourcedId` of every group a collection answered with in this run (see #groupExists). */
  readonly #seenGroups = new Set<string>();

  constructor(config: ProviderConfig, options: OneRosterConnectorOptions = {}) {
    // The schema already adds the version's base path to a bare origin; configs built in code
    // (tests, tools) get the same here.
    const effective = config.baseUrl
      ? { ...config, baseUrl: oneRosterBaseUrl(config.baseUrl, config.version) }
      : config;
    this.name = config.name;
    this.#config = effective;
    this.#logger = options.logger;
    this.#http = options.http ?? createHttpClient(effective, { logger: options.logger });
    this.nested = new Capabilities((route, error) => {
      this.#logger?.warn(
        { provider: this.name, route, status: (error as { status?: number }).status },
        `provider has no ${route} endpoint; using the top-level collections for the rest of this run`,
      );
    });
    this.#filters = new Capabilities((collection, error) => {
      this.#logger?.warn(
        { provider: this.name, collection, status: httpStatus(error) },
        "provider rejected the filter; listing the whole collection instead for the rest of this run",
      );
    });
    this.#topLevel = new TopLevelCollections({
      http: this.#http,
      providerName: this.name,
      version: effective.version,
      pageSize: effective.pageSize,
      maxRecords: effective.maxRecords,
      logger: this.#logger,
      filters: this.#filters,
    });
  }

  get stats(): ProviderStats {
    return this.#http.stats;
  }

  async listGroups(type: GroupType, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const { path, key } = GROUP_COLLECTIONS[type];
    const records = await this.#fetch(path, key, onProgress);
    return this.#groups(type, records);
  }

  /** Groups that may match `query`, by the server's `filter` (see groups.ts); undefined: list them. */
  async findGroups(query: GroupQuery, onProgress?: ProgressFn): Promise<RosterGroup[] | undefined> {
    const filter = groupFilter(query);
    if (filter === undefined) {
      return undefined;
    }
    const { path, key } = GROUP_COLLECTIONS[query.type];
    return this.#filters.run<RosterGroup[] | undefined>(
      path,
      async () => this.#groups(query.type, await this.#fetch(path, key, onProgress, { filter })),
      () => Promise.resolve(undefined),
      (error) => Promise.resolve(isFilterRejection(error)),
    );
  }

  async courseClasses(courseSourcedId: string, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const course = `courses/${encodeURIComponent(courseSourcedId)}`;
    const records = await this.nested.run(
      "courses/{id}/classes",
      () => this.#fetch(`${course}/classes`, "classes", onProgress),
      () => this.#topLevel.courseClasses(courseSourcedId, onProgress),
      (error) => isMissingEndpoint(error, () => this.#groupExists("courses", courseSourcedId)),
    );
    return this.#groups("classes", records);
  }

  async groupMembers(
    group: { type: "classes" | "schools"; sourcedId: string },
    kind: UserKind,
    onProgress?: ProgressFn,
  ): Promise<RosterUser[]> {
    const base = `${group.type}/${encodeURIComponent(group.sourcedId)}`;
    return this.nested.run(
      // One route for both kinds: a server without one of them has neither, in practice.
      `${group.type}/{id}/students|teachers`,
      () => this.#users(base, kind, onProgress),
      () =>
        group.type === "classes"
          ? this.#topLevel.classMembers(group.sourcedId, kind, onProgress)
          : this.#topLevel.schoolMembers(group.sourcedId, kind, onProgress),
      (error) => isMissingEndpoint(error, () => this.#groupExists(group.type, group.sourcedId)),
    );
  }

  async allUsers(kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    if (kind === "users") {
      const records = await this.#fetch("users", "users", onProgress);
      return records.map((record) => normaliseUser(record));
    }
    return this.#users("", kind, onProgress);
  }

  async check(): Promise<void> {
    const response = await this.#http.getJson("orgs", { limit: 1, offset: 0 });
    pageRecords(response, "orgs", this.name);
  }

  async close(): Promise<void> {
    this.#http.close();
  }

  /** Normalised groups, remembered as seen in their collection. */
  #groups(type: GroupType, records: OneRosterRecord[]): RosterGroup[] {
    return records.map((record) => {
      this.#seenGroups.add(`${type}/${record.sourcedId}`);
      return normaliseGroup(type, record);
    });
  }

  /**
   * Whether a group exists, after its nested endpoint answered 404. A group a collection answered
   * with in this run exists (mappings resolve their groups from the collections first): no request.
   * Else its own record (`classes/{id}`), and where the server has no single records either (top-
   * level collections only), the collection asked for that sourcedId.
   */
  async #groupExists(type: GroupType, sourcedId: string): Promise<boolean> {
    if (this.#seenGroups.has(`${type}/${sourcedId}`)) {
      return true;
    }
    const { path, key } = GROUP_COLLECTIONS[type];
    try {
      await this.#http.getJson(`${path}/${encodeURIComponent(sourcedId)}`);
      return true;
    } catch (error) {
      if (httpStatus(error) !== 404) {
        throw error;
      }
    }
    const listed = () => this.#fetch(path, key);
    // A server that ignores the filter answers with the whole collection: checked here either way.
    const records = sourcedId.includes("'")
      ? await listed()
      : await this.#filters.run(
          `${path}?sourcedId`,
          () => this.#fetch(path, key, undefined, { filter: `sourcedId='${sourcedId}'` }),
          listed,
          (error) => Promise.resolve(isFilterRejection(error)),
        );
    return this.#groups(type, records).some((group) => group.sourcedId === sourcedId);
  }

  /** Students, teachers, or both (`users` of a group: the nested endpoints have no `/users`). */
  async #users(base: string, kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    const kinds = kind === "users" ? (["students", "teachers"] as const) : [kind];
    const lists = await Promise.all(
      kinds.map(async (k) => {
        const path = base ? `${base}/${k}` : k;
        return this.#fetch(path, "users", onProgress, undefined, (record) =>
          normaliseUser(record, ROLE_OF_KIND[k]),
        );
      }),
    );
    return lists.flat();
  }

  async #fetch<T = OneRosterRecord>(
    path: string,
    key: string,
    onProgress?: ProgressFn,
    params?: SearchParams,
    map?: (record: OneRosterRecord) => T,
  ): Promise<T[]> {
    const records = await fetchAll<T>(this.#http, {
      providerName: this.name,
      path,
      key,
      pageSize: this.#config.pageSize,
      maxRecords: this.#config.maxRecords,
      onProgress,
      ...(params ? { params } : {}),
      ...(map ? { map } : {}),
    });
    this.#logger?.debug(
      { provider: this.name, path, ...params, records: records.length },
      "fetched collection",
    );
    return records;
  }
}
