// Clever API v3 collection paging (SPEC §4). A page is `{"data":[{"data":{…},"uri":…}],"links":[…]}`;
// the next page is the `links` entry with rel "next" (a URI relative to the origin, e.g.
// `/v3.0/users?starting_after=…`), followed as long as it exists: a short page is not the end
// (servers cap `limit`). The end is a page without a next link, or an empty page. A server that sends
// no `links` at all is paged with `starting_after=<last id>` until an empty page.
// Every page is checked: the `data` array exists and each entry wraps a record with an `id`.
// A record repeated from an earlier page fails the fetch: the cursor is not stable, and what it
// skipped would be removed. Bounded: a repeated record or next link, or too many records, stops with
// an error.
import { ProviderError, safeUrl } from "../../errors.js";
import { object } from "../fields.js";
import type { JsonResponse, SearchParams } from "../http.js";
import type { ProgressFn } from "../types.js";

export type CleverRecord = Record<string, unknown> & { id: string };

export interface PageSource {
  getJson(urlOrPath: string, searchParams?: SearchParams): Promise<JsonResponse>;
}

export interface FetchAllOptions {
  providerName: string;
  /** Collection path under the base URL, e.g. `v3.0/sections/123/users`. */
  path: string;
  /** Query parameters of the collection (`role`), kept on every page. */
  params?: SearchParams;
  /** `limit`: 1 to 10,000 (Clever answers 413 above). */
  pageSize: number;
  onProgress?: ProgressFn | undefined;
  /** Hard cap on records fetched. Default 1,000,000. */
  maxRecords?: number;
}

export interface CleverPage {
  records: CleverRecord[];
  /** The rel "next" URI as sent, if any. */
  next: string | undefined;
  /** Whether the body had a `links` array at all. */
  hasLinks: boolean;
}

const DEFAULT_MAX_RECORDS = 1_000_000;

function responseError(response: JsonResponse, providerName: string, what: string): ProviderError {
  const where = safeUrl(response.url);
  return new ProviderError(
    "PROVIDER_RESPONSE",
    `provider ${providerName}: ${what} at ${where}`,
    providerName,
    where,
    response.status,
  );
}

/** The records and next link of one page, checked. */
export function parsePage(response: JsonResponse, providerName: string): CleverPage {
  const fail = (what: string): never => {
    throw responseError(response, providerName, what);
  };
  const body = object(response.body);
  if (!body) {
    return fail(
      `expected a JSON object with "data", got ${Array.isArray(response.body) ? "an array" : typeof response.body}`,
    );
  }
  if (!Array.isArray(body.data)) {
    const keys = Object.keys(body).slice(0, 5).join(", ");
    return fail(
      body.data === undefined
        ? `response has no "data" array (keys: ${keys || "none"})`
        : `"data" is not an array`,
    );
  }
  const records = body.data.map((entry: unknown, index): CleverRecord => {
    const record = object(object(entry)?.data);
    if (!record) {
      return fail(`data[${index}] has no "data" object`);
    }
    if (typeof record.id !== "string" || record.id.trim() === "") {
      return fail(`data[${index}] has no id`);
    }
    return record as CleverRecord;
  });
  let next: string | undefined;
  const hasLinks = Array.isArray(body.links);
  for (const link of hasLinks ? (body.links as unknown[]) : []) {
    const { rel, uri } = object(link) ?? {};
    if (typeof rel === "string" && rel.toLowerCase() === "next" && typeof uri === "string" && uri !== "") {
      next = uri;
      break;
    }
  }
  return { records, next, hasLinks };
}

/**
 * The absolute URL of a next link, resolved against the page's URL, with the collection's own
 * parameters (`limit`, `role`) added where the link lacks them: a link that dropped `role` would
 * otherwise page through every user. Never another origin: the token is sent to whatever we follow.
 */
export function nextPageUrl(
  next: string,
  response: JsonResponse,
  params: SearchParams,
  providerName: string,
): string {
  const resolved = URL.canParse(next, response.url) ? new URL(next, response.url) : undefined;
  if (!resolved || resolved.origin !== new URL(response.url).origin) {
    throw responseError(
      response,
      providerName,
      `links rel "next" points ${resolved ? `to another origin (${resolved.origin})` : "to an invalid URL"}`,
    );
  }
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && !resolved.searchParams.has(key)) {
      resolved.searchParams.set(key, String(value));
    }
  }
  return resolved.toString();
}

/** Every record of a collection, page by page. Any fault fails the whole fetch. */
export async function fetchAll(source: PageSource, options: FetchAllOptions): Promise<CleverRecord[]> {
  const { providerName } = options;
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  const params: SearchParams = { ...options.params, limit: options.pageSize };
  const records: CleverRecord[] = [];
  const seenIds = new Set<string>();
  const seenLinks = new Set<string>();
  let pages = 0;
  let request: { url: string; params: SearchParams | undefined } = { url: options.path, params };

  for (;;) {
    const response = await source.getJson(request.url, request.params);
    const page = parsePage(response, providerName);
    pages += 1;

    const repeated: string[] = [];
    for (const record of page.records) {
      if (seenIds.has(record.id)) {
        repeated.push(record.id);
      } else {
        seenIds.add(record.id);
      }
      records.push(record);
    }
    options.onProgress?.({ pages: 1, records: page.records.length });

    if (page.records.length > 0 && repeated.length === page.records.length) {
      throw responseError(
        response,
        providerName,
        `page ${pages} repeated records already fetched (does the server ignore starting_after?)`,
      );
    }
    if (repeated.length > 0) {
      // A cursor over a collection that is not in a stable order skips as many records as it
      // repeats: the users it skipped would be removed.
      throw new ProviderError(
        "INCOMPLETE_FETCH",
        `provider ${providerName}: page ${pages} of ${options.path} repeated ${repeated.length} record(s) ` +
          `of earlier pages (${seenIds.size} unique of ${records.length} received, e.g. ${repeated[0]}); ` +
          `the paging is not stable, so records were skipped`,
        providerName,
        safeUrl(response.url),
        undefined,
        { retriable: true },
      );
    }
    if (records.length > maxRecords) {
      throw new ProviderError(
        "INCOMPLETE_FETCH",
        `provider ${providerName}: more than ${maxRecords} records at ${options.path}, the limit providers.${providerName}.maxRecords; stopped`,
        providerName,
        safeUrl(response.url),
        undefined,
      );
    }
    // Checked even on the last page: a link elsewhere is a fault worth reporting.
    const nextUrl =
      page.next !== undefined ? nextPageUrl(page.next, response, params, providerName) : undefined;
    if (page.records.length === 0) {
      return records;
    }
    if (nextUrl !== undefined) {
      if (seenLinks.has(nextUrl)) {
        throw responseError(response, providerName, `links rel "next" repeated a page already fetched`);
      }
      seenLinks.add(nextUrl);
      request = { url: nextUrl, params: undefined };
    } else if (!page.hasLinks) {
      const last = page.records[page.records.length - 1]!;
      request = { url: options.path, params: { ...params, starting_after: last.id } };
    } else {
      return records;
    }
  }
}
