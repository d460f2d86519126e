// Fault injection for the sandbox's rostering API, switchable at runtime. Decisions are made per
// request in a fixed order (see `decide`); random faults draw from a seeded generator so a
// sequential client sees the same pattern on every run.
import { parsePageFault, type DuplicatePagesFault, type LowTotalFault } from "./page-faults.js";
import type { Random } from "./random.js";
import { createRandom } from "./random.js";

export interface SandboxFaults {
  /** Delay before every API response, in ms. */
  latencyMs?: number;
  /** Extra random delay in [0, latencyJitterMs] ms. */
  latencyJitterMs?: number;
  /** Token-bucket rate limit; a request without a token gets 429 with Retry-After and X-RateLimit-*. */
  requestsPerSecond?: number;
  /** Bucket capacity. Default max(1, requestsPerSecond). */
  burst?: number;
  /** Fraction (0..1) of API requests answered 429 (with `Retry-After: retryAfterSeconds`). */
  fail429Rate?: number;
  /** Fraction (0..1) of API requests answered 503. */
  fail5xxRate?: number;
  /** Fraction (0..1) of API requests answered 200 with an HTML error page. */
  htmlErrorRate?: number;
  /** Retry-After (seconds) of the random 429s. Default 1. */
  retryAfterSeconds?: number;
  /** After this many API requests matching `failPath`, every further matching one fails. */
  failAfterRequests?: number;
  /** Regular expression (source) on the path below the API prefix, e.g. "^classes/[^/]+/students$". Default: all. */
  failPath?: string;
  /** Status of the failAfterRequests failures. Default 500. */
  failStatus?: number;
  /** Every page of a list endpoint at offset ≥ afterPages × limit fails (persistently, deterministically). */
  failPaging?: { afterPages: number; status?: number; path?: string };
  /** Seed of the random faults. Default: the district's seed. */
  seed?: number;
  /** API requests whose path matches `path` (a regular expression's source, below the API prefix;
   * default all) are answered 200 with a gzip body that expands to `bytes` (default 2 GiB) of
   * `{"users":[`, spaces and `]}`, made on the fly (src/sandbox/gzip-bomb.ts). Decided first. */
  gzipBomb?: { bytes?: number; path?: string };
  /** Pages after the first start `repeat` records early, cumulatively (an unstable order): the
   * records received still reach X-Total-Count, but some repeat and as many are never served. */
  duplicatePages?: DuplicatePagesFault;
  /** X-Total-Count says `missing` fewer records than the list has; the Link header follows the
   * reported total (`links: "total"`, a consistent lie) or the records (`"records"`, default). */
  lowTotal?: LowTotalFault;
}

export type FaultDecision =
  | { kind: "status"; status: number; headers: Record<string, string>; reason: string }
  | { kind: "html" }
  | { kind: "gzipBomb"; bytes: number };

/** Keys that can be cleared with `null` in a merge. */
type FaultKey = keyof SandboxFaults;
const FAULT_KEYS: FaultKey[] = [
  "latencyMs",
  "latencyJitterMs",
  "requestsPerSecond",
  "burst",
  "fail429Rate",
  "fail5xxRate",
  "htmlErrorRate",
  "retryAfterSeconds",
  "failAfterRequests",
  "failPath",
  "failStatus",
  "failPaging",
  "seed",
  "gzipBomb",
  "duplicatePages",
  "lowTotal",
];

/** Checks an untrusted fault object (from the admin API); throws a TypeError naming the bad key. */
export function parseFaults(input: unknown, allowNull: boolean): Record<string, unknown> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new TypeError("faults must be a JSON object");
  }
  for (const [key, value] of Object.entries(input)) {
    if (!FAULT_KEYS.includes(key as FaultKey)) {
      throw new TypeError(`unknown fault "${key}" (known: ${FAULT_KEYS.join(", ")})`);
    }
    if (value === null && allowNull) {
      continue;
    }
    if (key === "failPath") {
      if (typeof value !== "string") {
        throw new TypeError("failPath must be a string (a regular expression)");
      }
      new RegExp(value);
    } else if (key === "gzipBomb") {
      const v = value as { bytes?: unknown; path?: unknown } | null;
      if (v === null || typeof v !== "object" || (v.bytes !== undefined && !(Number(v.bytes) >= 0))) {
        throw new TypeError("gzipBomb must be { bytes?: number, path?: string }");
      }
      if (v.path !== undefined) {
        new RegExp(String(v.path));
      }
    } else if (key === "failPaging") {
      const v = value as { afterPages?: unknown; status?: unknown; path?: unknown } | null;
      if (v === null || typeof v !== "object" || typeof v.afterPages !== "number" || v.afterPages < 0) {
        throw new TypeError("failPaging must be { afterPages: number, status?: number, path?: string }");
      }
      if (v.status !== undefined && typeof v.status !== "number") {
        throw new TypeError("failPaging.status must be a number");
      }
      if (v.path !== undefined) {
        new RegExp(String(v.path));
      }
    } else if (key === "duplicatePages" || key === "lowTotal") {
      parsePageFault(key, value);
    } else if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`${key} must be a non-negative number`);
    }
  }
  return input as Record<string, unknown>;
}

export class FaultInjector {
  private faults: SandboxFaults = {};
  private random: Random;
  private tokens = 0;
  private lastRefill = 0;
  private matchedRequests = 0;

  constructor(
    private readonly defaultSeed: number,
    private readonly now: () => number = Date.now,
  ) {
    this.random = createRandom(defaultSeed);
  }

  get(): SandboxFaults {
    return structuredClone(this.faults);
  }

  /** Replaces every fault (`{}` turns all off) and restarts the counters, bucket and random stream. */
  set(faults: SandboxFaults): SandboxFaults {
    this.faults = structuredClone(stripNullish(faults));
    this.restart();
    return this.get();
  }

  /** Merges into the current faults; a key set to null is turned off. */
  merge(faults: Record<string, unknown>): SandboxFaults {
    const merged: Record<string, unknown> = { ...this.faults };
    for (const [key, value] of Object.entries(faults)) {
      if (value === null) {
        delete merged[key];
      } else {
        merged[key] = structuredClone(value);
      }
    }
    this.faults = merged as SandboxFaults;
    this.restart();
    return this.get();
  }

  private restart(): void {
    this.random = createRandom(this.faults.seed ?? this.defaultSeed);
    this.tokens = this.capacity();
    this.lastRefill = this.now();
    this.matchedRequests = 0;
  }

  private capacity(): number {
    const rps = this.faults.requestsPerSecond ?? 0;
    return this.faults.burst ?? Math.max(1, rps);
  }

  /** Delay (ms) to wait before answering an API request. */
  latency(): number {
    const base = this.faults.latencyMs ?? 0;
    const jitter = this.faults.latencyJitterMs ?? 0;
    return base + (jitter > 0 ? this.random.next() * jitter : 0);
  }

  /**
   * The fault, if any, for one API request, in this order: gzip bomb, rate limit, failPaging, failAfterRequests,
   * random 429, random 5xx, HTML page. `path` is below the API prefix; `page` is set for list endpoints.
   */
  decide(path: string, page: { offset: number; limit: number } | undefined): FaultDecision | undefined {
    const f = this.faults;
    if (f.gzipBomb && (f.gzipBomb.path === undefined || new RegExp(f.gzipBomb.path).test(path))) {
      return { kind: "gzipBomb", bytes: f.gzipBomb.bytes ?? 2 ** 31 };
    }
    const rps = f.requestsPerSecond;
    if (rps !== undefined && rps > 0) {
      const now = this.now();
      this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.lastRefill) / 1000) * rps);
      this.lastRefill = now;
      if (this.tokens < 1) {
        const waitMs = ((1 - this.tokens) / rps) * 1000;
        const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
        return {
          kind: "status",
          status: 429,
          reason: "rate limit exceeded",
          headers: {
            "Retry-After": String(retryAfter),
            "X-RateLimit-Limit": String(rps),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": String(Math.ceil((now + waitMs) / 1000)),
          },
        };
      }
      this.tokens -= 1;
    }
    if (
      f.failPaging &&
      page &&
      (f.failPaging.path === undefined || new RegExp(f.failPaging.path).test(path))
    ) {
      if (page.offset >= f.failPaging.afterPages * page.limit) {
        return {
          kind: "status",
          status: f.failPaging.status ?? 500,
          headers: {},
          reason: "injected paging failure",
        };
      }
    }
    if (
      f.failAfterRequests !== undefined &&
      (f.failPath === undefined || new RegExp(f.failPath).test(path))
    ) {
      this.matchedRequests += 1;
      if (this.matchedRequests > f.failAfterRequests) {
        return { kind: "status", status: f.failStatus ?? 500, headers: {}, reason: "injected failure" };
      }
    }
    if (f.fail429Rate && this.random.next() < f.fail429Rate) {
      return {
        kind: "status",
        status: 429,
        reason: "injected 429",
        headers: { "Retry-After": String(f.retryAfterSeconds ?? 1) },
      };
    }
    if (f.fail5xxRate && this.random.next() < f.fail5xxRate) {
      return { kind: "status", status: 503, headers: {}, reason: "injected 503" };
    }
    if (f.htmlErrorRate && this.random.next() < f.htmlErrorRate) {
      return { kind: "html" };
    }
    return undefined;
  }
}

function stripNullish(faults: SandboxFaults): SandboxFaults {
  return Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== null && v !== undefined));
}
