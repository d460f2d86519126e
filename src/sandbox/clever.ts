// The sandbox's Clever-shaped API (Clever API v3) at `/v3.0/…`, over the same District as the
// OneRoster API: bearer token, `{"data":[{"data":{…},"uri":…}],"links":[…]}` envelopes,
// `starting_after` paging with relative `links` (self, next), `limit` up to 10000 (413 above, as
// Clever answers), per-token `X-RateLimit-*` headers with fixed windows (Clever: 1200 requests a
// minute per token; 429 once spent), and the sandbox's fault injection.
import type http from "node:http";
import { CleverView, lowerBound, type CleverObject, type CleverResolved } from "./clever-records.js";
import type { FaultInjector } from "./faults.js";
import { minimalCleverRecord, MINIMAL_PAGE_SIZE, type SandboxModes } from "./modes.js";
import { cursorStart } from "./page-faults.js";
import { HTML_ERROR_PAGE, send } from "./respond.js";
import type { District } from "./roster.js";
import { sendGzipBomb } from "./gzip-bomb.js";

export const CLEVER_PREFIX = "/v3.0/";

export interface CleverSandboxOptions {
  /** The bearer token accepted; any other gets 401. Default "sandbox-clever-token". */
  token?: string;
  /** Requests per window per token (`X-RateLimit-Limit`). Default 1200. */
  requestsPerWindow?: number;
  /** Length of a rate-limit window, aligned to the clock. Default 60000 (a minute). */
  windowMs?: number;
  /** Largest page served: a `limit` up to 10000 is accepted and capped to this. Default 10000. */
  maxPageSize?: number;
  /** Page size when the request has no `limit`. Default 100. */
  defaultPageSize?: number;
}

export const CLEVER_SANDBOX_DEFAULTS = {
  token: "sandbox-clever-token",
  requestsPerWindow: 1200,
  windowMs: 60_000,
  maxPageSize: 10_000,
  defaultPageSize: 100,
} satisfies Required<CleverSandboxOptions>;

/** Clever's own ceiling on `limit`. */
export const CLEVER_MAX_LIMIT = 10_000;

export interface CleverApiContext {
  district: () => District;
  /** The sandbox's strict modes (modes.ts), read per request; default none. */
  modes?: () => SandboxModes;
  faults: FaultInjector;
  delay: (ms: number) => Promise<void>;
  /** Counts an API request by route template and path (the server's stats). */
  count: (route: string, path: string) => void;
  now?: () => number;
}

const error = (message: string): object => ({ error: message });

/** Fixed rate-limit windows per token, aligned to multiples of windowMs. */
class TokenWindows {
  readonly #windows = new Map<string, { resetAt: number; used: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  take(token: string, now: number): { allowed: boolean; headers: Record<string, string> } {
    let window = this.#windows.get(token);
    if (!window || now >= window.resetAt) {
      window = { resetAt: (Math.floor(now / this.windowMs) + 1) * this.windowMs, used: 0 };
      this.#windows.set(token, window);
    }
    const allowed = window.used < this.limit;
    if (allowed) {
      window.used += 1;
    }
    return {
      allowed,
      headers: {
        "X-RateLimit-Limit": String(this.limit),
        "X-RateLimit-Remaining": String(Math.max(0, this.limit - window.used)),
        "X-RateLimit-Reset": String(Math.ceil(window.resetAt / 1000)),
      },
    };
  }
}

type Paging = { start: number; limit: number } | { status: number; message: string };

function paging(url: URL, records: readonly CleverObject[], o: Required<CleverSandboxOptions>): Paging {
  const raw = url.searchParams.get("limit");
  let limit = o.defaultPageSize;
  if (raw !== null) {
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) {
      return { status: 400, message: `limit must be a positive integer, got "${raw}"` };
    }
    limit = Number(raw);
    if (limit > CLEVER_MAX_LIMIT) {
      return { status: 413, message: `limit must be at most ${CLEVER_MAX_LIMIT}, got ${limit}` };
    }
  }
  const after = url.searchParams.get("starting_after");
  let start = 0;
  if (after !== null) {
    start = lowerBound(records, after);
    if (records[start]?.id === after) {
      start += 1;
    }
  }
  return { start, limit: Math.min(limit, o.maxPageSize) };
}

/** A relative link to this collection with `starting_after` set (other parameters kept). */
function linkTo(url: URL, startingAfter: string | undefined): string {
  const params = new URLSearchParams(url.searchParams);
  if (startingAfter === undefined) {
    params.delete("starting_after");
  } else {
    params.set("starting_after", startingAfter);
  }
  const query = params.toString();
  return `${url.pathname}${query ? `?${query}` : ""}`;
}

export class CleverApi {
  readonly options: Required<CleverSandboxOptions>;
  readonly #ctx: CleverApiContext;
  readonly #windows: TokenWindows;
  #view: CleverView | undefined;
  #viewOf: District | undefined;

  constructor(options: CleverSandboxOptions, ctx: CleverApiContext) {
    this.options = { ...CLEVER_SANDBOX_DEFAULTS, ...stripUndefined(options) };
    this.#ctx = ctx;
    this.#windows = new TokenWindows(this.options.requestsPerWindow, this.options.windowMs);
  }

  /** The Clever records of the live district, rebuilt after every change to it. */
  view(): CleverView {
    const district = this.#ctx.district();
    if (!this.#view || this.#viewOf !== district || this.#view.version !== district.version) {
      this.#view = new CleverView(district);
      this.#viewOf = district;
    }
    return this.#view;
  }

  /** Answers one request below /v3.0/; returns the status sent. */
  async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    let segments: string[];
    try {
      segments = url.pathname.slice(CLEVER_PREFIX.length).split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      segments = [];
    }
    const path = ["v3.0", ...segments].join("/");
    this.#ctx.count(["v3.0", ...segments.map((s, i) => (i % 2 === 1 ? "{id}" : s))].join("/"), path);
    if (req.method !== "GET") {
      send(res, 405, error(`method ${req.method} not allowed`), { Allow: "GET" });
      return 405;
    }

    const resolved: CleverResolved = this.view().resolve(segments, url.searchParams.get("role"));
    const modes = this.#ctx.modes?.() ?? {};
    const page =
      resolved.kind === "list"
        ? paging(url, resolved.records, {
            ...this.options,
            maxPageSize: modes.minimal ? MINIMAL_PAGE_SIZE : this.options.maxPageSize,
          })
        : undefined;
    const fault = this.#ctx.faults.decide(
      path,
      page && "start" in page ? { offset: page.start, limit: page.limit } : undefined,
    );
    const wait = this.#ctx.faults.latency();
    if (wait > 0) {
      await this.#ctx.delay(wait);
    }
    if (fault?.kind === "gzipBomb") {
      await sendGzipBomb(res, fault.bytes);
      return 200;
    }
    if (fault?.kind === "html") {
      send(res, 200, HTML_ERROR_PAGE);
      return 200;
    }
    if (fault) {
      send(res, fault.status, error(fault.reason), fault.headers);
      return fault.status;
    }

    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (token !== this.options.token) {
      send(res, 401, error("invalid bearer token"), { "WWW-Authenticate": 'Bearer realm="clever"' });
      return 401;
    }
    const limited = this.#windows.take(token, (this.#ctx.now ?? Date.now)());
    const answer = (status: number, body: unknown): number => {
      send(res, status, body, limited.headers);
      return status;
    };
    if (!limited.allowed) {
      return answer(429, error("rate limit exceeded"));
    }
    if (resolved.kind === "missing") {
      return answer(404, error(resolved.description));
    }
    if (resolved.kind === "bad") {
      return answer(400, error(resolved.description));
    }
    const wrap = (collection: string, record: CleverObject) => ({
      data: modes.minimal ? minimalCleverRecord(collection, record) : record,
      uri: `${CLEVER_PREFIX}${collection}/${encodeURIComponent(record.id)}`,
    });
    if (resolved.kind === "single") {
      return answer(200, { ...wrap(resolved.collection, resolved.record), links: [] });
    }
    if (!page || "status" in page) {
      return answer(page?.status ?? 400, error(page?.message ?? "bad paging"));
    }
    const start = cursorStart(this.#ctx.faults.get(), path, page.start);
    const slice = resolved.records.slice(start, start + page.limit);
    const links = [{ rel: "self", uri: linkTo(url, url.searchParams.get("starting_after") ?? undefined) }];
    const last = slice[slice.length - 1];
    if (last && start + slice.length < resolved.records.length) {
      links.push({ rel: "next", uri: linkTo(url, last.id) });
    }
    return answer(200, { data: slice.map((r) => wrap(resolved.collection, r)), links });
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
