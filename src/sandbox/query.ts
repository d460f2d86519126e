// The query parameters of OneRoster 1.1 collection endpoints: `limit`/`offset` paging (with the
// `Link` and `X-Total-Count` headers), `filter`, `sort`/`orderBy` and `fields`. Pure functions of
// the request; the server turns a QueryError into a 400 with an imsx status.

export class QueryError extends Error {
  constructor(
    message: string,
    /** The imsx_CodeMinor value: invalid_filter_field, invalid_selection_field, invalid_sort_field, … */
    readonly codeMinor: string,
  ) {
    super(message);
    this.name = "QueryError";
  }
}

export interface Paging {
  limit: number;
  offset: number;
}

function nonNegativeInt(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === "") {
    return undefined;
  }
  if (!/^\d+$/.test(raw.trim())) {
    throw new QueryError(`${name} must be a non-negative integer, got "${raw}"`, "invalid_data");
  }
  return Number(raw.trim());
}

/** `limit` (default `defaultLimit`, capped at `maxPageSize`, at least 1) and `offset` (default 0). */
export function parsePaging(params: URLSearchParams, defaultLimit: number, maxPageSize: number): Paging {
  const limit = nonNegativeInt(params, "limit") ?? defaultLimit;
  if (limit === 0) {
    throw new QueryError("limit must be at least 1", "invalid_data");
  }
  return { limit: Math.min(limit, maxPageSize), offset: nonNegativeInt(params, "offset") ?? 0 };
}

/**
 * The `Link` header of one page: next (only when more records follow), prev, first and last, each an
 * absolute URL keeping the request's other parameters except the oauth_* ones (a link is re-signed).
 */
export function linkHeader(requestUrl: URL, paging: Paging, total: number): string {
  const at = (offset: number): string => {
    const url = new URL(requestUrl.href);
    for (const key of [...url.searchParams.keys()]) {
      if (key.startsWith("oauth_")) {
        url.searchParams.delete(key);
      }
    }
    url.searchParams.set("limit", String(paging.limit));
    url.searchParams.set("offset", String(offset));
    return url.href;
  };
  const links: string[] = [];
  if (paging.offset + paging.limit < total) {
    links.push(`<${at(paging.offset + paging.limit)}>; rel="next"`);
  }
  if (paging.offset > 0) {
    links.push(`<${at(Math.max(0, paging.offset - paging.limit))}>; rel="prev"`);
  }
  links.push(`<${at(0)}>; rel="first"`);
  const lastOffset = total === 0 ? 0 : Math.floor((total - 1) / paging.limit) * paging.limit;
  links.push(`<${at(lastOffset)}>; rel="last"`);
  return links.join(", ");
}

type Op = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~";
interface Predicate {
  path: string[];
  op: Op;
  value: string;
}

const PREDICATE = /^\s*([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'\s*/;
const JOIN = /^(AND|OR)\s+/;

function leafValues(record: unknown, path: string[]): string[] {
  let values: unknown[] = [record];
  for (const key of path) {
    values = values.flatMap((v) => {
      const next = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
      return Array.isArray(next) ? next : [next];
    });
  }
  // A ref (or a list of refs) without a sub-field compares by its sourcedId.
  return values.flatMap((v) => {
    if (typeof v === "string") {
      return [v];
    }
    if (typeof v === "number" || typeof v === "boolean") {
      return [String(v)];
    }
    if (v !== null && typeof v === "object" && typeof (v as { sourcedId?: unknown }).sourcedId === "string") {
      return [(v as { sourcedId: string }).sourcedId];
    }
    return [];
  });
}

function test(value: string, op: Op, wanted: string): boolean {
  switch (op) {
    case "=":
      return value === wanted;
    case "!=":
      return value !== wanted;
    case ">":
      return value > wanted;
    case ">=":
      return value >= wanted;
    case "<":
      return value < wanted;
    case "<=":
      return value <= wanted;
    case "~":
      return value.toLowerCase().includes(wanted.toLowerCase());
  }
}

/**
 * Parses a 1.1 filter (`field='value'`, ops = != > >= < <= ~, joined by one kind of AND/OR, a
 * dotted `field.sub` for refs) into a predicate. A field outside `fields` is an error.
 */
export function parseFilter(expression: string, fields: ReadonlySet<string>): (record: object) => boolean {
  const predicates: Predicate[] = [];
  let join: "AND" | "OR" | undefined;
  let rest = expression.trim();
  for (;;) {
    const m = PREDICATE.exec(rest);
    if (!m) {
      throw new QueryError(
        `cannot parse filter "${expression}" (expected field='value')`,
        "invalid_filter_field",
      );
    }
    const path = m[1]!.split(".");
    if (!fields.has(path[0]!)) {
      throw new QueryError(`unknown filter field "${m[1]}"`, "invalid_filter_field");
    }
    predicates.push({ path, op: m[2] as Op, value: m[3]! });
    rest = rest.slice(m[0].length);
    if (rest === "") {
      break;
    }
    const j = JOIN.exec(rest);
    if (!j || (join !== undefined && join !== j[1])) {
      throw new QueryError(
        `cannot parse filter "${expression}" (one kind of AND/OR)`,
        "invalid_filter_field",
      );
    }
    join = j[1] as "AND" | "OR";
    rest = rest.slice(j[0].length);
  }
  const matches = (record: object, p: Predicate): boolean => {
    const values = leafValues(record, p.path);
    return p.op === "!="
      ? values.every((v) => test(v, p.op, p.value))
      : values.some((v) => test(v, p.op, p.value));
  };
  return join === "OR"
    ? (record) => predicates.some((p) => matches(record, p))
    : (record) => predicates.every((p) => matches(record, p));
}

/** `sort=field&orderBy=asc|desc`: a sorted copy, comparing the field as a string. */
export function applySort<T extends object>(
  records: T[],
  params: URLSearchParams,
  fields: ReadonlySet<string>,
): T[] {
  const field = params.get("sort");
  if (!field) {
    return records;
  }
  if (!fields.has(field)) {
    throw new QueryError(`unknown sort field "${field}"`, "invalid_sort_field");
  }
  const direction = (params.get("orderBy") ?? "asc").toLowerCase() === "desc" ? -1 : 1;
  const key = (r: T): string => leafValues(r, [field])[0] ?? "";
  return records.slice().sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -direction : ka > kb ? direction : 0;
  });
}

/** `fields=a,b`: the selected fields of each record (sourcedId always kept). */
export function parseFields(
  params: URLSearchParams,
  fields: ReadonlySet<string>,
): ((r: object) => object) | undefined {
  const raw = params.get("fields");
  if (!raw) {
    return undefined;
  }
  const wanted = raw
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of wanted) {
    if (!fields.has(f)) {
      throw new QueryError(`unknown selection field "${f}"`, "invalid_selection_field");
    }
  }
  const keep = new Set(["sourcedId", ...wanted]);
  return (record) => Object.fromEntries(Object.entries(record).filter(([k]) => keep.has(k)));
}
