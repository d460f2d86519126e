// The Clever API v3 connector (district-app bearer token). Classes are Clever `sections`, members
// come from `/sections/{id}/users` and `/schools/{id}/users` filtered by `role`, a course's classes
// from `/courses/{id}/sections`. Paging lives in paging.ts, record shapes (and the field mapping
// table) in normalise.ts, the X-RateLimit pause in rate-limit.ts; auth, the token bucket and
// retries in ../http.ts.
import type { Logger } from "pino";
import type { ProviderConfig } from "../../config/schema.js";
import { createHttpClient, type HttpClient, type SearchParams } from "../http.js";
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
import { fetchAll, parsePage, type CleverRecord, type PageSource } from "./paging.js";
import { RateLimitGate } from "./rate-limit.js";

/** Used when a clever provider has no `baseUrl`. */
export const CLEVER_BASE_URL = "https://api.clever.com/";

/** The API version paths are built for when baseUrl does not name one. */
const API_VERSION = "v3.0";

/** Clever collection of each group type. */
const GROUP_COLLECTIONS = {
  classes: "sections",
  courses: "courses",
  schools: "schools",
} as const satisfies Record<GroupType, string>;

/** The Clever `role` of each member kind; `users` of a group is both, fetched one role at a time. */
const ROLE_OF_KIND = { students: "student", teachers: "teacher" } as const;

/**
 * What goes between baseUrl and a collection: "v3.0/" for `https://api.clever.com/`, nothing when
 * baseUrl already ends with a version (`https://api.clever.com/v3.1/`).
 */
export function versionPath(baseUrl: string): string {
  return /\/v\d+\.\d+\/?$/.test(new URL(baseUrl).pathname) ? "" : `${API_VERSION}/`;
}

export interface CleverConnectorOptions {
  logger?: Logger | undefined;
  /** Default: createHttpClient(config with the default baseUrl, { logger }). */
  http?: HttpClient;
  /** Default: pauses of at most `retry.maxDelayMs`, closed with the connector. A gate given here
   * is shared with other runs of the provider (src/providers/runtime.ts) and left open. */
  gate?: RateLimitGate;
}

export class CleverConnector implements Provider {
  readonly name: string;
  readonly #config: ProviderConfig;
  readonly #http: HttpClient;
  readonly #gate: RateLimitGate;
  readonly #ownsGate: boolean;
  /** Ends this connector's waits at a gate shared with other runs. */
  readonly #closed = new AbortController();
  readonly #source: PageSource;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;

  constructor(config: ProviderConfig, options: CleverConnectorOptions = {}) {
    const baseUrl = config.baseUrl ?? CLEVER_BASE_URL;
    this.name = config.name;
    this.#config = { ...config, baseUrl };
    this.#logger = options.logger;
    this.#prefix = versionPath(baseUrl);
    this.#http = options.http ?? createHttpClient(this.#config, { logger: options.logger });
    this.#ownsGate = !options.gate;
    this.#gate =
      options.gate ?? new RateLimitGate({ providerName: this.name, maxWaitMs: config.retry.maxDelayMs });
    const http = this.#http;
    const gate = this.#gate;
    const closed = this.#closed.signal;
    this.#source = {
      async getJson(urlOrPath: string, searchParams?: SearchParams) {
        await gate.wait(closed);
        const response = await http.getJson(urlOrPath, searchParams);
        gate.observe(response.headers);
        return response;
      },
    };
  }

  get stats(): ProviderStats {
    return this.#http.stats;
  }

  async listGroups(type: GroupType, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const records = await this.#fetch(GROUP_COLLECTIONS[type], undefined, onProgress);
    return records.map((record) => normaliseGroup(type, record));
  }

  async courseClasses(courseSourcedId: string, onProgress?: ProgressFn): Promise<RosterGroup[]> {
    const records = await this.#fetch(
      `courses/${encodeURIComponent(courseSourcedId)}/sections`,
      undefined,
      onProgress,
    );
    return records.map((record) => normaliseGroup("classes", record));
  }

  async groupMembers(
    group: { type: "classes" | "schools"; sourcedId: string },
    kind: UserKind,
    onProgress?: ProgressFn,
  ): Promise<RosterUser[]> {
    const path = `${GROUP_COLLECTIONS[group.type]}/${encodeURIComponent(group.sourcedId)}/users`;
    const kinds = kind === "users" ? (["students", "teachers"] as const) : [kind];
    const lists = await Promise.all(
      kinds.map(async (k) => {
        const role = ROLE_OF_KIND[k];
        const records = await this.#fetch(path, { role }, onProgress);
        return records.map((record) => normaliseUser(record, role));
      }),
    );
    return lists.flat();
  }

  async allUsers(kind: UserKind, onProgress?: ProgressFn): Promise<RosterUser[]> {
    // `users` is the whole directory (every role, each user once), as OneRoster's /users.
    const role = kind === "users" ? undefined : ROLE_OF_KIND[kind];
    const records = await this.#fetch("users", role ? { role } : undefined, onProgress);
    return records.map((record) => normaliseUser(record, role));
  }

  async check(): Promise<void> {
    const response = await this.#source.getJson(`${this.#prefix}schools`, { limit: 1 });
    parsePage(response, this.name);
  }

  async close(): Promise<void> {
    this.#closed.abort();
    if (this.#ownsGate) {
      this.#gate.close();
    }
    this.#http.close();
  }

  async #fetch(
    collection: string,
    params: SearchParams | undefined,
    onProgress: ProgressFn | undefined,
  ): Promise<CleverRecord[]> {
    const path = `${this.#prefix}${collection}`;
    const records = await fetchAll(this.#source, {
      providerName: this.name,
      path,
      ...(params ? { params } : {}),
      pageSize: this.#config.pageSize,
      maxRecords: this.#config.maxRecords,
      onProgress,
    });
    this.#logger?.debug(
      { provider: this.name, path, ...params, records: records.length },
      "fetched collection",
    );
    return records;
  }
}
