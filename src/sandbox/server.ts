// A real OneRoster 1.1 HTTP server over a generated district, for `roster-sync sandbox`, the demo, the
// end-to-end tests and the benchmark. node:http only. These parts share one port:
//   /ims/oneroster/v1p1/…   the rostering API (auth, paging, filter, faults)
//   /v3.0/…                 the same district as a Clever API v3 (bearer token; see clever.ts)
//   /ims/oneroster/rostering/v1p2/…  the same district as OneRoster 1.2 (OAuth 2; see oneroster12.ts)
//   /oauth/token            OAuth 2 client-credentials tokens (used when auth is "oauth2")
//   /_sandbox/…             an unauthenticated admin API: stats, faults, modes, mutations (see ADMIN_HELP)
// The strict modes (modes.ts) make every dialect as sparse and odd as its spec allows.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Resolved } from "./api.js";
import { resolve, routeOf } from "./api.js";
import type { AuthResult } from "./auth.js";
import { OAuth1Verifier, TokenIssuer } from "./auth.js";
import type { DistrictOptions } from "./district.js";
import { generateDistrict } from "./district.js";
import type { SandboxFaults } from "./faults.js";
import { FaultInjector } from "./faults.js";
import { sendGzipBomb } from "./gzip-bomb.js";
import type { MutationResult, SandboxChange } from "./mutate.js";
import { applyChange } from "./mutate.js";
import { serveAdmin } from "./admin.js";
import type { CleverSandboxOptions } from "./clever.js";
import { CleverApi, CLEVER_PREFIX } from "./clever.js";
import type { OneRoster12SandboxOptions } from "./oneroster12.js";
import { OneRoster12Api, V1P2_PREFIX } from "./oneroster12.js";
import { HTML_ERROR_PAGE, imsxError, readBody, send } from "./respond.js";
import { endpointServed, listPage } from "./list.js";
import { minimalOneRosterRecord, parseModes, Shuffler, type SandboxModes } from "./modes.js";
import type { Paging } from "./query.js";
import { QueryError, parsePaging } from "./query.js";
import { API_PREFIX } from "./records.js";
import type { District } from "./roster.js";

export interface SandboxOptions extends DistrictOptions {
  /** Listen address. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one. Default 0. */
  port?: number;
  /** Serve this district instead of generating one from the DistrictOptions. */
  district?: District;
  /** How API requests authenticate. Default "oauth1" (HMAC-SHA256). */
  auth?: "oauth1" | "oauth2" | "none";
  /** OAuth consumer key / client id. Default "sandbox-client". */
  clientId?: string;
  /** OAuth consumer secret / client secret. Default "sandbox-secret". */
  clientSecret?: string;
  /** Largest page served; a larger `limit` is capped (as real servers do). Default 500. */
  maxPageSize?: number;
  /** Page size when the request has no `limit`. Default 100. */
  defaultPageSize?: number;
  /** Initial `latencyMs` fault (shorthand for faults.latencyMs). */
  latencyMs?: number;
  /** Initial faults (see SandboxFaults). Default none. */
  faults?: SandboxFaults;
  /** OAuth 1 timestamp tolerance. Default 10 minutes. */
  maxClockSkewMs?: number;
  /** Lifetime of OAuth 2 tokens (`expires_in`). Default 3600. */
  tokenTtlSeconds?: number;
  /** Called after every answered request (for the CLI's log). */
  onRequest?: (info: { method: string; path: string; status: number; durationMs: number }) => void;
  /** The Clever-shaped API at /v3.0/ (bearer token, rate-limit windows): see CleverSandboxOptions. */
  clever?: CleverSandboxOptions;
  /** The OneRoster 1.2 API (OAuth 2 tokens from /oauth/token whatever `auth` says): see
   * OneRoster12SandboxOptions (nested endpoints, filter support). */
  oneRoster12?: OneRoster12SandboxOptions;
  /** Strict modes of every REST dialect (see modes.ts). Default none. */
  modes?: SandboxModes;
}

export const SANDBOX_DEFAULTS: Required<
  Pick<
    SandboxOptions,
    "host" | "port" | "auth" | "clientId" | "clientSecret" | "maxPageSize" | "defaultPageSize"
  >
> = {
  host: "127.0.0.1",
  port: 0,
  auth: "oauth1",
  clientId: "sandbox-client",
  clientSecret: "sandbox-secret",
  maxPageSize: 500,
  defaultPageSize: 100,
};

export interface SandboxStats {
  /** Requests to the rostering API and the token endpoint (the admin API is not counted). */
  requests: number;
  apiRequests: number;
  tokenRequests: number;
  /** Responses by status code, e.g. { "200": 41, "429": 3 }. */
  byStatus: Record<string, number>;
  status401: number;
  status429: number;
  status5xx: number;
  htmlErrors: number;
  /** API requests by route template, e.g. "classes/{id}/students". */
  byRoute: Record<string, number>;
  /** API requests by path (ids included, no query). */
  byPath: Record<string, number>;
}

export interface Sandbox {
  /** Base URL of the rostering API, e.g. http://127.0.0.1:PORT/ims/oneroster/v1p1/ */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** OAuth 2 token endpoint: http://127.0.0.1:PORT/oauth/token */
  readonly tokenUrl: string;
  /** http://127.0.0.1:PORT/_sandbox/ */
  readonly adminUrl: string;
  readonly port: number;
  readonly auth: "oauth1" | "oauth2" | "none";
  readonly clientId: string;
  readonly clientSecret: string;
  /** Base URL of the Clever-shaped API (its paths start with /v3.0/): http://127.0.0.1:PORT/ */
  readonly cleverUrl: string;
  /** The bearer token the Clever-shaped API accepts. */
  readonly cleverToken: string;
  /** Base URL of the OneRoster 1.2 API: http://127.0.0.1:PORT/ims/oneroster/rostering/v1p2/ */
  readonly url12: string;
  /** Switches the 1.2 API's nested endpoints and filter support at runtime; returns all switches. */
  configureOneRoster12(options: OneRoster12SandboxOptions): Required<OneRoster12SandboxOptions>;
  /** Merges into the strict modes (see modes.ts); returns them all. */
  setModes(modes: SandboxModes): SandboxModes;
  /** The live district (replaced by `resetDistrict`). */
  readonly district: District;
  /** Replaces every fault; `setFaults({})` turns them all off. */
  setFaults(faults: SandboxFaults): SandboxFaults;
  /** Merges into the current faults; a key set to null turns that fault off. */
  mergeFaults(faults: { [K in keyof SandboxFaults]?: SandboxFaults[K] | null }): SandboxFaults;
  faults(): SandboxFaults;
  mutate(change: SandboxChange): MutationResult;
  /** Regenerates the district from the start options (not available when a district was passed in). */
  resetDistrict(): District;
  stats(): SandboxStats;
  resetStats(): void;
  /** Forgets every OAuth 2 token issued so far; returns how many. */
  revokeTokens(): number;
  close(): Promise<void>;
}

function emptyStats(): SandboxStats {
  return {
    requests: 0,
    apiRequests: 0,
    tokenRequests: 0,
    byStatus: {},
    status401: 0,
    status429: 0,
    status5xx: 0,
    htmlErrors: 0,
    byRoute: {},
    byPath: {},
  };
}

const bump = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Starts the sandbox; resolves once it listens. Always `close()` it. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const o = {
    host: options.host ?? SANDBOX_DEFAULTS.host,
    port: options.port ?? SANDBOX_DEFAULTS.port,
    auth: options.auth ?? SANDBOX_DEFAULTS.auth,
    clientId: options.clientId ?? SANDBOX_DEFAULTS.clientId,
    clientSecret: options.clientSecret ?? SANDBOX_DEFAULTS.clientSecret,
    maxPageSize: options.maxPageSize ?? SANDBOX_DEFAULTS.maxPageSize,
    defaultPageSize: options.defaultPageSize ?? SANDBOX_DEFAULTS.defaultPageSize,
  };
  let district = options.district ?? generateDistrict(options);
  const faults = new FaultInjector(district.seed);
  faults.set({
    ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
    ...options.faults,
  });
  const verifier = new OAuth1Verifier({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    ...(options.maxClockSkewMs !== undefined ? { maxSkewMs: options.maxClockSkewMs } : {}),
  });
  const issuer = new TokenIssuer({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    ...(options.tokenTtlSeconds !== undefined ? { tokenTtlSeconds: options.tokenTtlSeconds } : {}),
  });
  let stats = emptyStats();
  const modes: SandboxModes = { ...options.modes };
  const shuffler = new Shuffler(district.seed);
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const delay = (ms: number): Promise<void> =>
    new Promise((done) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        done();
      }, ms);
      timers.add(timer);
    });
  // Requests of the Clever and 1.2 dialects count like the 1.1 API's.
  const count = (route: string, path: string): void => {
    stats.apiRequests += 1;
    bump(stats.byRoute, route);
    bump(stats.byPath, path);
  };
  const clever = new CleverApi(options.clever ?? {}, {
    district: () => district,
    modes: () => modes,
    faults,
    delay,
    count,
  });

  const oneRoster12 = new OneRoster12Api(options.oneRoster12 ?? {}, {
    district: () => district,
    modes: () => modes,
    shuffler,
    faults,
    delay,
    count,
    verify: (authorization) => issuer.verify(authorization),
    defaultPageSize: o.defaultPageSize,
    maxPageSize: o.maxPageSize,
  });

  const authenticate = (req: http.IncomingMessage, url: URL): AuthResult => {
    switch (o.auth) {
      case "none":
        return { ok: true };
      case "oauth2":
        return issuer.verify(req.headers.authorization);
      default:
        return verifier.verify(req.method ?? "GET", url, req.headers.authorization);
    }
  };

  const serveApi = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> => {
    const below = url.pathname.slice(API_PREFIX.length);
    let segments: string[];
    try {
      segments = below.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      segments = [];
    }
    stats.apiRequests += 1;
    bump(stats.byRoute, routeOf(segments));
    bump(stats.byPath, segments.join("/"));

    if (req.method !== "GET") {
      send(res, 405, imsxError(405, `method ${req.method} not allowed`), { Allow: "GET" });
      return 405;
    }
    const resolved: Resolved | undefined = resolve(district, segments);
    let paging: Paging | QueryError | undefined;
    if (resolved?.kind === "list") {
      try {
        paging = parsePaging(url.searchParams, o.defaultPageSize, o.maxPageSize);
      } catch (error) {
        paging = error instanceof QueryError ? error : new QueryError(String(error), "invalid_data");
      }
    }

    const fault = faults.decide(segments.join("/"), paging instanceof QueryError ? undefined : paging);
    const wait = faults.latency();
    if (wait > 0) {
      await delay(wait);
    }
    if (fault?.kind === "gzipBomb") {
      await sendGzipBomb(res, fault.bytes);
      return 200;
    }
    if (fault?.kind === "html") {
      stats.htmlErrors += 1;
      send(res, 200, HTML_ERROR_PAGE);
      return 200;
    }
    if (fault) {
      send(res, fault.status, imsxError(fault.status, fault.reason), fault.headers);
      return fault.status;
    }

    const auth = authenticate(req, url);
    if (!auth.ok) {
      send(res, 401, imsxError(401, `unauthorised: ${auth.reason}`), {
        "WWW-Authenticate": o.auth === "oauth2" ? 'Bearer realm="sandbox"' : 'OAuth realm="sandbox"',
      });
      return 401;
    }
    if (!resolved || !endpointServed(segments, modes)) {
      send(res, 404, imsxError(404, `no endpoint ${url.pathname}`));
      return 404;
    }
    if (resolved.kind === "missing") {
      send(res, 404, imsxError(404, resolved.description));
      return 404;
    }
    if (resolved.kind === "single") {
      const record = modes.minimal
        ? minimalOneRosterRecord("1.1", resolved.key, resolved.record)
        : resolved.record;
      send(res, 200, { [resolved.key]: record });
      return 200;
    }
    try {
      if (paging instanceof QueryError) {
        throw paging;
      }
      const page = listPage({
        version: "1.1",
        key: resolved.key,
        records: resolved.records,
        fields: resolved.fields,
        url,
        paging: paging!,
        path: segments.join("/"),
        faults: faults.get(),
        modes,
        shuffler,
      });
      send(res, 200, page.body, page.headers);
      return 200;
    } catch (error) {
      if (error instanceof QueryError) {
        send(res, 400, imsxError(400, error.message, error.codeMinor));
        return 400;
      }
      throw error;
    }
  };

  const serveToken = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<number> => {
    stats.tokenRequests += 1;
    if (req.method !== "POST") {
      send(res, 405, { error: "invalid_request", error_description: "POST only" }, { Allow: "POST" });
      return 405;
    }
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    const answer = issuer.issue(req.headers.authorization, form);
    send(res, answer.status, answer.body, { "Cache-Control": "no-store" });
    return answer.status;
  };

  const info = (): object => ({
    url: handle.url,
    tokenUrl: handle.tokenUrl,
    auth: o.auth,
    clientId: o.clientId,
    maxPageSize: o.maxPageSize,
    defaultPageSize: o.defaultPageSize,
    seed: district.seed,
    counts: district.counts(),
    schools: district.schools().map((s) => ({ sourcedId: s.sourcedId, name: s.name })),
  });

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const address = server.address() as AddressInfo;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", `http://${req.headers.host ?? `${o.host}:${address.port}`}`);
    } catch {
      send(res, 400, imsxError(400, "bad request URL"));
      return;
    }
    const path = url.pathname;
    const answer = async (): Promise<number | undefined> => {
      if (path === "/_sandbox" || path.startsWith("/_sandbox/")) {
        await serveAdmin(req, res, url, {
          sandbox: handle,
          faults,
          info,
          modes: { get: () => ({ ...modes }), set: (m) => handle.setModes(parseModes(m)) },
        });
        return undefined;
      }
      stats.requests += 1;
      if (path === "/oauth/token" || path === `${API_PREFIX}oauth/token`) {
        return serveToken(req, res);
      }
      if (path.startsWith(CLEVER_PREFIX)) {
        return clever.serve(req, res, url);
      }
      if (path.startsWith(V1P2_PREFIX)) {
        return oneRoster12.serve(req, res, url);
      }
      if (path.startsWith(API_PREFIX)) {
        return serveApi(req, res, url);
      }
      send(res, 404, imsxError(404, `no endpoint ${path}; the API is under ${API_PREFIX}`));
      return 404;
    };
    answer().then(
      (status) => {
        if (status === undefined) {
          return;
        }
        bump(stats.byStatus, String(status));
        if (status === 401) {
          stats.status401 += 1;
        } else if (status === 429) {
          stats.status429 += 1;
        } else if (status >= 500) {
          stats.status5xx += 1;
        }
        options.onRequest?.({
          method: req.method ?? "GET",
          path,
          status,
          durationMs: performance.now() - started,
        });
      },
      (error: unknown) => {
        if (!res.headersSent && !closed) {
          send(
            res,
            500,
            imsxError(500, `sandbox error: ${error instanceof Error ? error.message : String(error)}`),
          );
        }
      },
    );
  });

  await new Promise<void>((ready, fail) => {
    server.once("error", fail);
    server.listen(o.port, o.host, () => {
      server.off("error", fail);
      ready();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.host.includes(":") ? `[${o.host}]` : o.host;
  const origin = `http://${hostForUrl}:${port}`;

  const handle: Sandbox = {
    url: `${origin}${API_PREFIX}`,
    origin,
    tokenUrl: `${origin}/oauth/token`,
    adminUrl: `${origin}/_sandbox/`,
    port,
    auth: o.auth,
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    cleverUrl: `${origin}/`,
    cleverToken: clever.options.token,
    url12: `${origin}${V1P2_PREFIX}`,
    configureOneRoster12: (switches) => oneRoster12.configure(switches),
    setModes: (changes) => {
      Object.assign(modes, changes);
      return { ...modes };
    },
    get district() {
      return district;
    },
    setFaults: (f) => faults.set(f),
    mergeFaults: (f) => faults.merge(f),
    faults: () => faults.get(),
    mutate: (change) => applyChange(district, change),
    resetDistrict: () => {
      if (options.district) {
        throw new RangeError("the sandbox was started with a ready-made district; it cannot regenerate it");
      }
      district = generateDistrict(options);
      return district;
    },
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = emptyStats();
    },
    revokeTokens: () => issuer.revokeAll(),
    close: async () => {
      if (closed) {
        return;
      }
      closed = true;
      for (const timer of timers) {
        clearTimeout(timer);
      }
      timers.clear();
      const done = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await done;
    },
  };
  return handle;
}
