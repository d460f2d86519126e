// The sandbox's OneRoster 1.2 dialect at `/ims/oneroster/rostering/v1p2/…`, over the same District
// as the 1.1 API: the same endpoints (api.ts), paging, filter, sort and fields (query.ts) and
// faults, with 1.2 record shapes and OAuth 2 bearer tokens from the sandbox's `/oauth/token`.
//
// 1.2 shapes, as the IMS 1.2 REST binding has them: a user has no `role` or `orgs` but `roles[]`
// (`{roleType: primary|secondary, role, org}`, one per org, the first primary) and `primaryOrg`;
// administrators are `siteAdministrator`; `enabledUser` and an enrollment's `primary` are booleans;
// `identifier` is also `userMasterIdentifier`; refs point below the 1.2 prefix.
//
// Two switches imitate servers seen in the wild: `nestedEndpoints: false` answers every nested
// endpoint (`/classes/{id}/students`, `/schools/{id}/teachers`, `/courses/{id}/classes`, …) with
// 404, as servers serving only top-level collections do; `acceptFilter: false` answers any
// `filter` with 400.
import type http from "node:http";
import { resolve, routeOf } from "./api.js";
import type { AuthResult } from "./auth.js";
import type { FaultInjector } from "./faults.js";
import { endpointServed, listPage } from "./list.js";
import { minimalOneRosterRecord, type SandboxModes, type Shuffler } from "./modes.js";
import { parsePaging, QueryError } from "./query.js";
import { API_PREFIX } from "./records.js";
import { HTML_ERROR_PAGE, imsxError, send } from "./respond.js";
import type { District } from "./roster.js";
import { sendGzipBomb } from "./gzip-bomb.js";

export const V1P2_PREFIX = "/ims/oneroster/rostering/v1p2/";

export interface OneRoster12SandboxOptions {
  /** Serve `/classes/{id}/students` and the other nested endpoints; false answers them 404. Default true. */
  nestedEndpoints?: boolean;
  /** Honour `filter`; false answers any request with a `filter` 400. Default true. */
  acceptFilter?: boolean;
}

export const ONEROSTER12_SANDBOX_DEFAULTS = {
  nestedEndpoints: true,
  acceptFilter: true,
} satisfies Required<OneRoster12SandboxOptions>;

export interface OneRoster12Context {
  district: () => District;
  /** The sandbox's strict modes (modes.ts), read per request. */
  modes: () => SandboxModes;
  shuffler: Shuffler;
  faults: FaultInjector;
  delay: (ms: number) => Promise<void>;
  /** Counts an API request by route template and path (the server's stats). */
  count: (route: string, path: string) => void;
  /** Checks the bearer token (the sandbox's OAuth 2 issuer). */
  verify: (authorization: string | undefined) => AuthResult;
  defaultPageSize: number;
  maxPageSize: number;
}

/** Fields a 1.2 record has beyond its 1.1 counterpart, accepted by filter, sort and fields. */
const EXTRA_FIELDS: Record<string, readonly string[]> = {
  users: ["roles", "primaryOrg", "userMasterIdentifier", "userProfiles", "preferredFirstName"],
  user: [],
};

const ROLE_12: Record<string, string> = { administrator: "siteAdministrator" };

type Json = Record<string, unknown>;

const asBoolean = (value: unknown): unknown => (value === "true" ? true : value === "false" ? false : value);

/** 1.1 records → 1.2 records, each converted once per district version (then shared). */
class Converter {
  #converted = new WeakMap<object, Json>();
  /** Whole lists too: a list endpoint is paged through many times. */
  #lists = new WeakMap<readonly object[], Json[]>();
  #of: District | undefined;
  #version = -1;

  constructor(private readonly district: () => District) {}

  #fresh(): void {
    const district = this.district();
    if (district !== this.#of || district.version !== this.#version) {
      this.#converted = new WeakMap();
      this.#lists = new WeakMap();
      this.#of = district;
      this.#version = district.version;
    }
  }

  /** The 1.2 form of a record found under the envelope key `key` (plural or singular). */
  record(key: string, record: object): Json {
    this.#fresh();
    let out = this.#converted.get(record);
    if (!out) {
      out = key === "users" || key === "user" ? this.#user(record as Json) : this.#refs(record as Json);
      if (key === "enrollments" || key === "enrollment") {
        out.primary = asBoolean(out.primary);
      }
      this.#converted.set(record, out);
    }
    return out;
  }

  list(key: string, records: readonly object[]): Json[] {
    this.#fresh();
    let out = this.#lists.get(records);
    if (!out) {
      out = records.map((r) => this.record(key, r));
      this.#lists.set(records, out);
    }
    return out;
  }

  #ref(value: unknown): unknown {
    if (typeof value !== "object" || value === null || typeof (value as Json).href !== "string") {
      return value;
    }
    const ref = value as Json;
    return { ...ref, href: (ref.href as string).replace(API_PREFIX, V1P2_PREFIX) };
  }

  /** A shallow copy with every ref (and list of refs) pointing below the 1.2 prefix. */
  #refs(record: Json): Json {
    const out: Json = {};
    for (const [key, value] of Object.entries(record)) {
      out[key] = Array.isArray(value) ? value.map((v) => this.#ref(v)) : this.#ref(value);
    }
    return out;
  }

  #user(record: Json): Json {
    const { role, orgs, ...rest } = this.#refs(record);
    const orgRefs = Array.isArray(orgs) ? orgs : [];
    const role12 = typeof role === "string" ? (ROLE_12[role] ?? role) : role;
    return {
      ...rest,
      userMasterIdentifier: rest.identifier,
      enabledUser: asBoolean(rest.enabledUser),
      roles: orgRefs.map((org, i) => ({
        roleType: i === 0 ? "primary" : "secondary",
        role: role12,
        org,
      })),
      ...(orgRefs[0] !== undefined ? { primaryOrg: orgRefs[0] } : {}),
      userProfiles: [],
    };
  }
}

export class OneRoster12Api {
  options: Required<OneRoster12SandboxOptions>;
  readonly #ctx: OneRoster12Context;
  readonly #convert: Converter;

  constructor(options: OneRoster12SandboxOptions, ctx: OneRoster12Context) {
    this.options = { ...ONEROSTER12_SANDBOX_DEFAULTS };
    this.configure(options);
    this.#ctx = ctx;
    this.#convert = new Converter(ctx.district);
  }

  /** Changes the switches at runtime (a key left out keeps its value); returns them all. */
  configure(options: OneRoster12SandboxOptions): Required<OneRoster12SandboxOptions> {
    for (const [key, value] of Object.entries(options) as [keyof OneRoster12SandboxOptions, boolean][]) {
      if (value !== undefined) {
        this.options[key] = value;
      }
    }
    return { ...this.options };
  }

  /** Answers one request below the 1.2 prefix; returns the status sent. */
  async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    let segments: string[];
    try {
      segments = url.pathname.slice(V1P2_PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      segments = [];
    }
    const path = ["v1p2", ...segments].join("/");
    this.#ctx.count(`v1p2/${routeOf(segments)}`, path);
    const answer = (status: number, body: unknown, headers?: Record<string, string>): number => {
      send(res, status, body, headers);
      return status;
    };
    if (req.method !== "GET") {
      return answer(405, imsxError(405, `method ${req.method} not allowed`), { Allow: "GET" });
    }

    const resolved = resolve(this.#ctx.district(), segments);
    let paging;
    try {
      paging =
        resolved?.kind === "list"
          ? parsePaging(url.searchParams, this.#ctx.defaultPageSize, this.#ctx.maxPageSize)
          : undefined;
    } catch (error) {
      paging = error instanceof QueryError ? error : new QueryError(String(error), "invalid_data");
    }
    const fault = this.#ctx.faults.decide(path, paging instanceof QueryError ? undefined : paging);
    const wait = this.#ctx.faults.latency();
    if (wait > 0) {
      await this.#ctx.delay(wait);
    }
    if (fault?.kind === "gzipBomb") {
      await sendGzipBomb(res, fault.bytes);
      return 200;
    }
    if (fault?.kind === "html") {
      return answer(200, HTML_ERROR_PAGE);
    }
    if (fault) {
      return answer(fault.status, imsxError(fault.status, fault.reason), fault.headers);
    }

    const auth = this.#ctx.verify(req.headers.authorization);
    if (!auth.ok) {
      return answer(401, imsxError(401, `unauthorised: ${auth.reason}`), {
        "WWW-Authenticate": 'Bearer realm="sandbox"',
      });
    }
    const modes = this.#ctx.modes();
    if (
      !resolved ||
      (segments.length > 2 && !this.options.nestedEndpoints) ||
      !endpointServed(segments, modes)
    ) {
      return answer(404, imsxError(404, `no endpoint ${url.pathname}`));
    }
    if (resolved.kind === "missing") {
      return answer(404, imsxError(404, resolved.description));
    }
    if (resolved.kind === "single") {
      const record = this.#convert.record(resolved.key, resolved.record);
      return answer(200, {
        [resolved.key]: modes.minimal ? minimalOneRosterRecord("1.2", resolved.key, record) : record,
      });
    }
    try {
      if (paging instanceof QueryError || paging === undefined) {
        throw paging ?? new QueryError("bad paging", "invalid_data");
      }
      const fields = new Set([...resolved.fields, ...(EXTRA_FIELDS[resolved.key] ?? [])]);
      const filter = url.searchParams.get("filter");
      if (filter !== null && !this.options.acceptFilter && !modes.minimal) {
        throw new QueryError("this server does not support filter", "invalid_filter_field");
      }
      const page = listPage({
        version: "1.2",
        key: resolved.key,
        records: this.#convert.list(resolved.key, resolved.records),
        fields,
        url,
        paging,
        path,
        faults: this.#ctx.faults.get(),
        modes,
        shuffler: this.#ctx.shuffler,
      });
      return answer(200, page.body, page.headers);
    } catch (error) {
      if (error instanceof QueryError) {
        return answer(400, imsxError(400, error.message, error.codeMinor));
      }
      throw error;
    }
  }
}
