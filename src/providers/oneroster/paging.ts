// OneRoster collection paging (SPEC §4): `limit`/`offset`, or the `Link: rel="next"` header when the
// server sends one. A short page is not the end (servers cap `limit`), and neither is reaching
// X-Total-Count while the server still names a next page. The end is an empty page, a Link header
// without `next`, or reaching X-Total-Count; the records received, the unique records and the
// total must then agree, or the fetch failed: a server whose total or paging is off (it repeats
// records of earlier pages, or its total is lower than what it has) would otherwise hand over a
// short roster that looks whole. When the total ends exactly on a full page, one more request
// confirms the end: the only way to see a total that is low by whole pages. A server that
// implements neither `limit` nor `offset` (a first page longer than `limit`, then the same records
// at the next offset) has served its whole collection, twice alike: that is the end too.
// Every page is checked (page.ts). Bounded: a repeated record or Link, or too many records, stops
// with an error.
import { ProviderError, safeUrl } from "../../errors.js";
import type { JsonResponse, SearchParams } from "../http.js";
import type { ProgressFn } from "../types.js";
import { pageRecords, parseLinkHeader, parseTotalCount, type OneRosterRecord } from "./page.js";

export { pageRecords, parseLinkHeader, parseTotalCount, type OneRosterRecord } from "./page.js";

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
  /** Hard cap on records fetched (providers.*.maxRecords). Default 1,000,000. */
  maxRecords?: number;
  /** Turns each checked record into what the caller keeps, page by page as pages arrive (so that
   * the work overlaps the wait for the next page). Default: the record itself. */
  map?: (record: OneRosterRecord) => T;
}

const DEFAULT_MAX_RECORDS = 1_000_000;

/**
 * Whether the pages after the first can be asked for by offset, all at once: the first page was
 * full-sized (`pageLength` records, the server's cap or our limit) and X-Total-Count says more
 * follow, and the server pages by offset (no Link header, or one whose `next` is the offset we
 * would ask for; a cursor in the Link means the pages must be walked one by one). A total that
 * ends on a full page plans the request that confirms the end too, so that it costs no round trip.
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
  for (let offset = pageLength; offset <= total; offset += pageLength) {
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
  /** The longest page so far: the server's cap on `limit`, or our `limit`. */
  let longestPage = 0;
  /** Whether a Link was followed that is not the offset we would ask for: then an offset request
   * means nothing to the server, and the end cannot be confirmed by one. */
  let cursorPaging = false;
  let confirming = false;
  /** Records of the first page. */
  let firstPage = 0;
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
  const badResponse = (message: string, response: JsonResponse): ProviderError =>
    new ProviderError(
      "PROVIDER_RESPONSE",
      `provider ${providerName}: ${message} at ${safeUrl(response.url)}`,
      providerName,
      safeUrl(response.url),
      response.status,
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

    if (pages === 1) {
      firstPage = page.length;
    } else if (
      pages === 2 &&
      firstPage > pageSize &&
      page.length === firstPage &&
      page.every((record) => seenIds.has(record.sourcedId))
    ) {
      // The first page held more than `limit` and the offset after it served the same records
      // again: a server that implements neither `limit` nor `offset` and answers its whole
      // collection every time. That answer, twice alike, is the collection.
      return records;
    }
    const repeated: string[] = [];
    for (const record of page) {
      if (seenIds.has(record.sourcedId)) {
        repeated.push(record.sourcedId);
      } else {
        seenIds.add(record.sourcedId);
      }
      records.push(map(record));
    }
    options.onProgress?.({ pages: 1, records: page.length });

    if (page.length > 0 && repeated.length === page.length) {
      throw badResponse(
        `page ${pages} repeated records already fetched (does the server ignore offset?)`,
        response,
      );
    }
    if (repeated.length > 0) {
      // Offset paging over a collection that changed (or is served in no stable order) skips as
      // many records as it repeats: the users it skipped would be removed.
      throw incomplete(
        `page ${pages} of ${options.path} repeated ${repeated.length} record(s) of earlier pages ` +
          `(${seenIds.size} unique of ${records.length} received, e.g. ${repeated[0]}); ` +
          `the paging is not stable, so records were skipped`,
        response.url,
      );
    }
    if (total !== undefined && records.length > total) {
      throw incomplete(
        `received ${records.length} records of ${options.path} but X-Total-Count said ${total}`,
        response.url,
      );
    }
    if (records.length > maxRecords) {
      throw incomplete(
        `more than ${maxRecords} records at ${options.path}, the limit providers.${providerName}.maxRecords; stopped`,
        response.url,
        false,
      );
    }

    const link = parseLinkHeader(response.headers.link);
    let nextUrl: string | undefined;
    if (link.next !== undefined) {
      const resolved = URL.canParse(link.next, response.url) ? new URL(link.next, response.url) : undefined;
      if (!resolved || resolved.origin !== new URL(response.url).origin) {
        // Credentials are sent to whatever we follow: never to another origin.
        throw badResponse(
          `Link rel="next" points ${resolved ? `to another origin (${resolved.origin})` : "to an invalid URL"}`,
          response,
        );
      }
      if (page.length > 0) {
        nextUrl = resolved.toString();
      }
    }

    // A first page shorter than `limit` may be the server's cap, but one that is also the whole
    // total is taken as the end: confirming every small collection would double its cost.
    const fullPage =
      page.length > 0 && (page.length >= pageSize || (longestPage > 0 && page.length >= longestPage));
    longestPage = Math.max(longestPage, page.length);
    const reachedTotal = total !== undefined && records.length >= total;
    const serverSaysEnd = (link.hasLinks && link.next === undefined) || reachedTotal;
    if (page.length === 0 || (serverSaysEnd && nextUrl === undefined && planned.size === 0)) {
      if (total !== undefined && records.length !== total) {
        throw incomplete(
          `fetched ${records.length} records of ${options.path} but X-Total-Count said ${total}`,
          response.url,
        );
      }
      const confirm = page.length > 0 && total !== undefined && fullPage && !cursorPaging && !confirming;
      if (!confirm) {
        return records;
      }
      // The total ends on a full page: a total low by whole pages looks exactly like this.
      confirming = true;
      request = { url: options.path, params: offsetParams(records.length) };
      continue;
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
        throw badResponse(`Link rel="next" repeated a page already fetched`, response);
      }
      seenLinks.add(nextUrl);
      if (new URL(nextUrl).searchParams.get("offset") !== String(records.length)) {
        cursorPaging = true;
      }
      request = { url: nextUrl, params: undefined };
    } else {
      // Advance by what came back, not by `limit`: the server may have capped the page.
      request = { url: options.path, params: offsetParams(records.length) };
    }
  }
}
