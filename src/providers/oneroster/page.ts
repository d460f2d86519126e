// One page of a OneRoster collection, read and checked (SPEC §4): the Link header's `next`,
// X-Total-Count, and the envelope array with a sourcedId on every record. Pure functions of a
// response; the walk over pages is paging.ts.
import { ProviderError, safeUrl } from "../../errors.js";
import type { JsonResponse } from "../http.js";

export type OneRosterRecord = Record<string, unknown> & { sourcedId: string };

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
