// OneRoster collection paging (SPEC §4): `limit`/`offset`, or the `Link: rel="next"` header when the
// server sends one. A short page is not the end (servers cap `limit`); the end is an empty page, a
// Link header without `next`, or reaching `X-Total-Count`, and the fetched count must then equal
// that total. Every page is checked: the envelope array is there and each record has a sourcedId.
// Bounded: a page that brings nothing new, a repeated Link, or too many records stops with an error.
import { ProviderError, safeUrl } from "../../errors.js";
import type { JsonResponse, SearchParams } from "../http.js";
import type { ProgressFn } from "../types.js";

export type OneRosterRecord = Record<string, unknown> & { sourcedId: string };

export interface PageSource {
  getJson(urlOrPath: string, searchParams?: SearchParams): Promise<JsonResponse>;
}

export interface FetchAllOptions<T = OneRosterRecord> {
  providerName: string;
  /** Collection path under the base URL, e.g. `classes/123/students`. */
  path: string;
  /** Envelope key holding the records: `users`, `classes`, `orgs`, `courses`, … */
  key: string;
  pageSize: number;
  /** Extra query parameters (`filter`, `fields`, …) sent on the first page and offset pages. */
  params?: SearchParams;
  onProgress?: ProgressFn | undefined;
  /** Hard cap on records fetched. Default 1,000,000. */
  maxRecords?: number;
  /** Turns each checked record into what the caller keeps, page by page as pages arrive (so that
   * the work overlaps the wait for the next page). Default: the record itself. */
  map?: (record: OneRosterRecord) => T;
}

const DEFAULT_MAX_RECORDS = 1_000_000;

/** The URL of `rel="next"` in a Link header (RFC 8288), or undefined; `hasLinks` tells whether any link was sent. */
export function parseLinkHeader(header: string | string[] | undefined): {
  next: string | undefined;
  hasLinks: boolean;
} {
  const text = Array.isArray(header) ? header.join(", ") : (header ?? "");
  let next: string | undefined;
  let hasLinks = false;
  for (const match of text.matchAll(/<([^>]*)>((?:\s*;\s*[^;,<]+(?:=(?:"[^"]*"|[^;,]*))?)*)/g)) {
    hasLinks = true;
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(match[2] ?? "");
    const rels = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
    if (next === undefined && rels.includes("next")) {
      next = match[1]!.trim();
    }
  }
  return { next, hasLinks };
}

/** X-Total-Count as a non-negative integer, or undefined when absent or malformed. */
export function parseTotalCount(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) {
    return undefined;
  }
  return Number(value);
}

/** The records of one page, checked: the envelope array exists and every record has a sourcedId. */
export function pageRecords(response: JsonResponse, key: string, providerName: string): OneRosterRecord[] {
  const where = safeUrl(response.url);
  const fail = (what: string): never => {
    throw new ProviderError(
      "PROVIDER_RESPONSE",
      `provider ${providerName}: ${what} at ${where}`,
      providerName,
      where,
      response.status,
    );
  };
  const body = response.body;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return fail(
      `expected a JSON object with "${key}", got ${Array.isArray(body) ? "an array" : typeof body}`,
    );
  }
  const records = (body as Record<string, unknown>)[key];
  if (!Array.isArray(records)) {
    const keys = Object.keys(body).slice(0, 5).join(", ");
    return fail(
      records === undefined
        ? `response has no "${key}" array (keys: ${keys || "none"})`
        : `"${key}" is not an array`,
    );
  }
  records.forEach((record: unknown, index) => {
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      fail(`${key}[${index}] is not an object`);
    }
    const id = (record as Record<string, unknown>).sourcedId;
    if (typeof id !== "string" || id.trim() === "") {
      fail(`${key}[${index}] has no sourcedId`);
    }
  });
  return records as OneRosterRecord[];
}

/**
 * Whether the pages after the first can be asked for by offset, all at once: the first page was
 * full-sized (`pageLength` records, the server's cap or our limit) and X-Total-Count says more
 * follow, and the server pages by offset (no Link header, or one whose `next` is the offset we
 * would ask for; a cursor in the Link means the pages must be walked one by one).
 */
export function plannedOffsets(
  pageLength: number,
  total: number | undefined,
  next: string | undefined,
  maxRecords: number,
): number[] {
  if (total === undefined || pageLength === 0 || total <= pageLength || total > maxRecords) {
    return [];
  }
  if (next !== undefined) {
    const offset = URL.canParse(next) ? new URL(next).searchParams.get("offset") : null;
    if (offset !== String(pageLength)) {
      return [];
    }
  }
  const offsets: number[] = [];
  for (let offset = pageLength; offset < total; offset += pageLength) {
    offsets.push(offset);
  }
  return offsets;
}

/**
 * Every record of a collection, page by page. Any fault fails the whole fetch.
 *
 * When the first page shows that the server pages by offset and how many records there are, the
 * remaining pages are requested together (planned), so that a collection costs one round trip
 * plus its pages at the provider's rate, not one round trip per page; the HTTP client's
 * concurrency cap and token bucket pace them. They are still consumed in order and checked as in
 * the sequential walk; a page that does not line up with the plan (the collection changed, the
 * server capped a page differently) ends the plan, and the walk goes on one page at a time from
 * where the records really end.
 */
export async function fetchAll<T = OneRosterRecord>(
  http: PageSource,
  options: FetchAllOptions<T>,
): Promise<T[]> {
  const { providerName, key, pageSize } = options;
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  const map = options.map ?? ((record: OneRosterRecord) => record as unknown as T);
  const records: T[] = [];
  const seenIds = new Set<string>();
  const seenLinks = new Set<string>();
  let pages = 0;
  let total: number | undefined;
  /** Requests already sent for the planned pages, by offset. */
  let planned = new Map<number, Promise<JsonResponse>>();
  let request: { url: string; params: SearchParams | undefined } = {
    url: options.path,
    params: { ...options.params, limit: pageSize, offset: 0 },
  };
  const offsetParams = (offset: number): SearchParams => ({ ...options.params, limit: pageSize, offset });

  const incomplete = (message: string, url: string, retriable = true): ProviderError =>
    new ProviderError(
      "INCOMPLETE_FETCH",
      `provider ${providerName}: ${message}`,
      providerName,
      safeUrl(url),
      undefined,
      {
        retriable,
      },
    );

  for (;;) {
    const offset = records.length;
    const plannedResponse = request.url === options.path ? planned.get(offset) : undefined;
    const response = await (plannedResponse ?? http.getJson(request.url, request.params));
    planned.delete(offset);
    const page = pageRecords(response, key, providerName);
    pages += 1;

    const pageTotal = parseTotalCount(response.headers["x-total-count"]);
    if (pageTotal !== undefined) {
      if (total !== undefined && pageTotal !== total) {
        throw incomplete(
          `X-Total-Count changed from ${total} to ${pageTotal} during the fetch of ${options.path}`,
          response.url,
        );
      }
      total = pageTotal;
    }

    let fresh = 0;
    for (const record of page) {
      if (!seenIds.has(record.sourcedId)) {
        seenIds.add(record.sourcedId);
        fresh += 1;
      }
      records.push(map(record));
    }
    options.onProgress?.({ pages: 1, records: page.length });

    if (page.length > 0 && fresh === 0) {
      throw new ProviderError(
        "PROVIDER_RESPONSE",
        `provider ${providerName}: page ${pages} repeated records already fetched (does the server ignore offset?) at ${safeUrl(response.url)}`,
        providerName,
        safeUrl(response.url),
        response.status,
      );
    }
    if (records.length > maxRecords) {
      throw incomplete(`more than ${maxRecords} records at ${options.path}; stopped`, response.url, false);
    }

    const link = parseLinkHeader(response.headers.link);
    let nextUrl: string | undefined;
    if (link.next !== undefined) {
      const resolved = URL.canParse(link.next, response.url) ? new URL(link.next, response.url) : undefined;
      if (!resolved || resolved.origin !== new URL(response.url).origin) {
        // Credentials are sent to whatever we follow: never to another origin.
        throw new ProviderError(
          "PROVIDER_RESPONSE",
          `provider ${providerName}: Link rel="next" points ${resolved ? `to another origin (${resolved.origin})` : "to an invalid URL"} at ${safeUrl(response.url)}`,
          providerName,
          safeUrl(response.url),
          response.status,
        );
      }
      if (page.length > 0) {
        nextUrl = resolved.toString();
      }
    }

    const reachedTotal = total !== undefined && records.length >= total;
    const serverSaysEnd = (link.hasLinks && link.next === undefined) || reachedTotal;
    if (page.length === 0 || serverSaysEnd) {
      if (total !== undefined && records.length !== total) {
        throw incomplete(
          `fetched ${records.length} records of ${options.path} but X-Total-Count said ${total}`,
          response.url,
        );
      }
      return records;
    }

    if (pages === 1) {
      for (const at of plannedOffsets(page.length, total, nextUrl, maxRecords)) {
        const sent = http.getJson(options.path, offsetParams(at));
        // Consumed in order below; one abandoned by a broken plan must not be an unhandled rejection.
        sent.catch(() => undefined);
        planned.set(at, sent);
      }
    }
    if (planned.size > 0 && !planned.has(records.length)) {
      // The records no longer line up with the plan: walk on one page at a time.
      planned = new Map();
    }

    if (planned.size > 0) {
      request = { url: options.path, params: offsetParams(records.length) };
    } else if (nextUrl !== undefined) {
      if (seenLinks.has(nextUrl)) {
        throw new ProviderError(
          "PROVIDER_RESPONSE",
          `provider ${providerName}: Link rel="next" repeated a page already fetched at ${safeUrl(response.url)}`,
          providerName,
          safeUrl(response.url),
          response.status,
        );
      }
      seenLinks.add(nextUrl);
      request = { url: nextUrl, params: undefined };
    } else {
      // Advance by what came back, not by `limit`: the server may have capped the page.
      request = { url: options.path, params: offsetParams(records.length) };
    }
  }
}
