// One page of a OneRoster list endpoint (1.1 and 1.2 alike): filter, sort, fields, paging headers,
// the paging faults (page-faults.ts) and the strict modes (modes.ts). Pure: the servers send it.
import type { SandboxFaults } from "./faults.js";
import { minimalOneRosterRecord, MINIMAL_PAGE_SIZE, type SandboxModes, type Shuffler } from "./modes.js";
import { offsetPage } from "./page-faults.js";
import type { Paging } from "./query.js";
import { applySort, linkHeader, parseFields, parseFilter } from "./query.js";

export interface ListRequest {
  version: "1.1" | "1.2";
  /** Envelope key (`users`, `orgs`, …). */
  key: string;
  records: readonly object[];
  /** Fields a filter, sort or selection may name. */
  fields: ReadonlySet<string>;
  url: URL;
  paging: Paging;
  /** The path below the API prefix, as the faults match it. */
  path: string;
  faults: SandboxFaults;
  modes: SandboxModes;
  shuffler: Shuffler;
}

/** Whether a path of `segments` (below the prefix) is served in these modes. */
export function endpointServed(segments: readonly string[], modes: SandboxModes): boolean {
  if (modes.topLevelOnly) {
    return segments.length === 1;
  }
  return !modes.minimal || segments.length <= 2;
}

/** The body and headers of one page; throws a QueryError for a bad filter, sort or selection. */
export function listPage(request: ListRequest): { body: object; headers: Record<string, string> } {
  const { url, modes, key } = request;
  if (modes.minimal) {
    // Filter, sort and fields are ignored: everything is answered, in the server's own order.
    const paging = { ...request.paging, limit: Math.min(request.paging.limit, MINIMAL_PAGE_SIZE) };
    const records = request.shuffler.of(request.records);
    const page = offsetPage(request.faults, request.path, paging, records.length);
    const slice = records
      .slice(page.start, page.end)
      .map((record) => minimalOneRosterRecord(request.version, key, record));
    return { body: { [key]: slice }, headers: {} };
  }
  let records = request.records;
  const filter = url.searchParams.get("filter");
  if (filter) {
    records = records.filter(parseFilter(filter, request.fields));
  }
  records = applySort(records as object[], url.searchParams, request.fields);
  const select = parseFields(url.searchParams, request.fields);
  const page = offsetPage(request.faults, request.path, request.paging, records.length);
  const slice = records.slice(page.start, page.end);
  return {
    body: { [key]: select ? slice.map(select) : slice },
    headers: {
      "X-Total-Count": String(page.total),
      Link: linkHeader(url, request.paging, page.linkTotal),
    },
  };
}
