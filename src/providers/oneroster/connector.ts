// The OneRoster 1.1 / 1.2 REST connector (and ClassLink, which is 1.1 with OAuth1). It maps the
// Provider interface onto the rostering endpoints; paging lives in paging.ts, auth, rate limits and
// retries in ../http.ts, record shapes in normalise.ts.
import type { Logger } from "pino";
import type { ProviderConfig } from "../../config/schema.js";
import { createHttpClient, type HttpClient } from "../http.js";
import type {
  GroupType,
  ProgressFn,
  Provider,
  ProviderStats,
  RosterGroup,
  RosterUser,
  UserKind,
} from "../types.js";
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

  constructor(config: ProviderConfig, options: OneRosterConnectorOptions = {}) {
    this.name = config.name;
    this.#config = config;
    this.#logger = options.logger;
    this.#http = options.http ?? createHttpClient(config, { logger: options.logger });
  }

  get stats(): ProviderStats {
    return this.#http.stats;
  }

  async listGroups(type: GroupType, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const { path, key } = GROUP_COLLECTIONS[type];
    const records = await this.#fetch(path, key, onProgress);
    return records.map((record) => normaliseGroup(type, record));
  }

  async courseClasses(courseSourcedId: string, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const records = await this.#fetch(
      `courses/${encodeURIComponent(courseSourcedId)}/classes`,
      "classes",
      onProgress,
    );
    return records.map((record) => normaliseGroup("classes", record));
  }

  async groupMembers(
    group: { type: "classes" | "schools"; sourcedId: string },
    kind: UserKind,
    onProgress?: ProgressFn,
  ): Promise<RosterUser[]> {
    const base = `${group.type}/${encodeURIComponent(group.sourcedId)}`;
    return this.#users(base, kind, onProgress);
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

  /** Students, teachers, or both (`users` of a group: the nested endpoints have no `/users`). */
  async #users(base: string, kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    const kinds = kind === "users" ? (["students", "teachers"] as const) : [kind];
    const lists = await Promise.all(
      kinds.map(async (k) => {
        const path = base ? `${base}/${k}` : k;
        const records = await this.#fetch(path, "users", onProgress);
        return records.map((record) => normaliseUser(record, ROLE_OF_KIND[k]));
      }),
    );
    return lists.flat();
  }

  async #fetch(path: string, key: string, onProgress?: ProgressFn): Promise<OneRosterRecord[]> {
    const records = await fetchAll(this.#http, {
      providerName: this.name,
      path,
      key,
      pageSize: this.#config.pageSize,
      onProgress,
    });
    this.#logger?.debug({ provider: this.name, path, records: records.length }, "fetched collection");
    return records;
  }
}
