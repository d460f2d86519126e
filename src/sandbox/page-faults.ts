// Paging faults of real servers (issue 9, SPEC §4), applied to one page of a list endpoint:
// - duplicatePages: the order shifts between requests, so each page after the first starts
//   `repeat` records early, cumulatively. Page lengths still add up to the count, so the records
//   received reach X-Total-Count while some repeat and as many are never served.
// - lowTotal: X-Total-Count is lower than the list; the Link header follows the reported total
//   (a consistent lie) or the records.
// Pure functions of the faults and the request; the servers slice and send.

export interface DuplicatePagesFault {
  repeat: number;
  path?: string;
}
export interface LowTotalFault {
  missing: number;
  links?: "total" | "records";
  path?: string;
}
/** The paging faults of a SandboxFaults. */
export interface PageFaults {
  duplicatePages?: DuplicatePagesFault;
  lowTotal?: LowTotalFault;
}

/** Checks `duplicatePages` / `lowTotal` from the admin API; throws a TypeError naming the bad key. */
export function parsePageFault(key: "duplicatePages" | "lowTotal", value: unknown): void {
  const v = value as { repeat?: unknown; missing?: unknown; links?: unknown; path?: unknown } | null;
  const count = key === "duplicatePages" ? v?.repeat : v?.missing;
  if (v === null || typeof v !== "object" || typeof count !== "number" || !(count >= 0)) {
    throw new TypeError(
      key === "duplicatePages"
        ? "duplicatePages must be { repeat: number, path?: string }"
        : 'lowTotal must be { missing: number, links?: "total" | "records", path?: string }',
    );
  }
  if (key === "lowTotal" && v.links !== undefined && v.links !== "total" && v.links !== "records") {
    throw new TypeError('lowTotal.links must be "total" or "records"');
  }
  if (v.path !== undefined) {
    new RegExp(String(v.path));
  }
}

const applies = (fault: { path?: string } | undefined, path: string): boolean =>
  fault !== undefined && (fault.path === undefined || new RegExp(fault.path).test(path));

export interface OffsetPage {
  /** Slice of the list served: [start, end). */
  start: number;
  end: number;
  /** X-Total-Count sent. */
  total: number;
  /** The count the Link header is computed from. */
  linkTotal: number;
}

/** The page at `offset`/`limit` of a list of `count` records at `path` (below the API prefix). */
export function offsetPage(
  faults: PageFaults,
  path: string,
  paging: { offset: number; limit: number },
  count: number,
): OffsetPage {
  const { offset, limit } = paging;
  let start = offset;
  let end = offset + limit;
  if (applies(faults.duplicatePages, path) && offset > 0) {
    start = Math.max(0, offset - faults.duplicatePages!.repeat * Math.floor(offset / limit));
    end = start + Math.max(0, Math.min(limit, count - offset));
  }
  let total = count;
  let linkTotal = count;
  if (applies(faults.lowTotal, path)) {
    total = Math.max(0, count - faults.lowTotal!.missing);
    linkTotal = faults.lowTotal!.links === "total" ? total : count;
  }
  return { start, end, total, linkTotal };
}

/** Where a cursor page (Clever's `starting_after`) starts: `repeat` records early under duplicatePages. */
export function cursorStart(faults: PageFaults, path: string, start: number): number {
  return applies(faults.duplicatePages, path) && start > 0
    ? Math.max(0, start - faults.duplicatePages!.repeat)
    : start;
}
