// Finding a mapping's groups with the server's `filter` instead of listing every class (issue 4,
// "Speed"): `classes?filter=title~'Advisory'` is one request where the listing of a large
// district's classes is dozens.
//
// Our matching (SPEC §3) is trimmed and ignores case; a server's `=` is exact. So the filter asks
// with `~` (contains), which the servers we know compare ignoring case, and gets back a superset
// that src/sync/resolve.ts re-checks with the real matching:
//   - the server returns every title that contains the value in any case, so case and whitespace
//     variants ("advisory", " Advisory ") come back with the exact one;
//   - a server whose `~` is case-sensitive misses variants in another case. When it finds nothing
//     at all, resolve.ts lists every group, as before; only a variant in another case of a title
//     that ALSO exists exactly as configured is missed. We accept that: the listing would cost
//     every sync of every such mapping dozens of requests to guard against a data-entry slip, and
//     `matchOn: [sourcedId]` or a listing-only provider (`type: csv`) stays exact.
// A server that answers a filter with an HTTP error (400 usually; see isFilterRejection) does not
// take it: the connector lists that collection for the rest of its life (one cycle). Schools are always listed: a district has tens of them,
// one page, shared by every mapping of the cycle, where a filter would cost a request per mapping.
import type { GroupQuery } from "../types.js";

/** Fields OneRoster gives each filterable group type, which a filter may name. */
const FILTERABLE_FIELDS = {
  classes: new Set(["sourcedId", "title", "classCode"]),
  courses: new Set(["sourcedId", "title", "courseCode"]),
} as const;

/**
 * Fields OneRoster does not define on the type (the seed's default `matchOn` includes `name`, a
 * field of orgs): a record has no such field, so it never matches (SPEC §3) and needs no predicate.
 */
const ABSENT_FIELDS = {
  classes: new Set(["name"]),
  courses: new Set(["name"]),
} as const;

/** OneRoster servers commonly take one logical operator, i.e. two predicates, in a filter. */
const MAX_PREDICATES = 2;

/**
 * The `filter` that finds every group `query` can match (and perhaps others), or undefined when
 * no filter can: schools (listed), a field we cannot filter on, a value the filter grammar cannot
 * quote (it has no escape for `'`), or more predicates than servers take. Pure.
 */
export function groupFilter(query: GroupQuery): string | undefined {
  if (query.type === "schools") {
    return undefined;
  }
  const value = query.match.trim();
  if (value === "" || value.includes("'")) {
    return undefined;
  }
  const predicates: string[] = [];
  for (const field of new Set(query.matchOn)) {
    if (FILTERABLE_FIELDS[query.type].has(field)) {
      predicates.push(`${field}~'${value}'`);
    } else if (!ABSENT_FIELDS[query.type].has(field)) {
      return undefined;
    }
  }
  if (predicates.length === 0 || predicates.length > MAX_PREDICATES) {
    return undefined;
  }
  return predicates.join(" OR ");
}
