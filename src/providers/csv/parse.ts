// Streams one CSV file of a bundle row by row (csv-parse), checks its header against the table's
// spec and each row's shape, and records what is wrong with the file and line number: an error
// when it touches what the sync reads (the `use` of the table), a warning otherwise. Only a row
// at a time is held: a 200k-row enrollments.csv never becomes one string.
import { parse, type CsvError } from "csv-parse";
import type { ProgressFn } from "../types.js";
import type { BundleSource } from "./source.js";
import type { TableSpec, TableUse } from "./tables.js";

/** Rows per progress "page". */
export const ROWS_PER_PAGE = 10_000;
/** Longest record accepted; a longer one means an unclosed quote swallowing the file. */
const MAX_RECORD_CHARS = 1_000_000;

export interface CsvProblem {
  file: string;
  /** 1-based line where the row starts; undefined for a problem of the whole file. */
  line: number | undefined;
  message: string;
}

export const formatProblem = (p: CsvProblem): string =>
  p.line === undefined ? `${p.file}: ${p.message}` : `${p.file}:${p.line}: ${p.message}`;

/** Every problem is counted; the first `keep` are kept for the error message and for callers. */
export class Problems {
  readonly list: CsvProblem[] = [];
  count = 0;

  constructor(private readonly keep = 100) {}

  add(file: string, line: number | undefined, message: string): void {
    this.count += 1;
    if (this.list.length < this.keep) {
      this.list.push({ file, line, message });
    }
  }
}

/** What a bundle's reading found: errors fail the load, warnings are logged and the sync goes on. */
export interface Report {
  errors: Problems;
  warnings: Problems;
}

/** Errors or warnings, by whether the sync depends on what is wrong. */
const where = (report: Report, used: boolean): Problems => (used ? report.errors : report.warnings);

/** One data row: its values by column name (blank = ""), its line, and the header for extra columns. */
export class CsvRow {
  constructor(
    readonly file: string,
    private readonly header: ReadonlyMap<string, number>,
    readonly values: readonly string[],
    readonly line: number,
  ) {}

  has(column: string): boolean {
    return this.header.has(column);
  }

  get(column: string): string {
    const at = this.header.get(column);
    return at === undefined ? "" : (this.values[at] ?? "");
  }

  /** A trimmed value (ids, enumerations, lists). */
  id(column: string): string {
    return this.get(column).trim();
  }

  /** Columns beyond the spec's (extensions such as `metadata.*`), as name → value. */
  extras(known: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, at] of this.header) {
      if (!known.includes(name)) {
        out[name] = this.values[at] ?? "";
      }
    }
    return out;
  }
}

function newlines(values: readonly string[]): number {
  let n = 0;
  for (const value of values) {
    for (let i = value.indexOf("\n"); i >= 0; i = value.indexOf("\n", i + 1)) {
      n += 1;
    }
  }
  return n;
}

export type ReadSpec = Pick<TableSpec, "file" | "columns" | "required" | "enums"> & {
  /** The column without which a row is of no use (a problem only). Default sourcedId. */
  key?: string;
  use: TableUse;
  /** More data rows than this make the file unreadable (an error naming the limit): an export
   * that never ends must not fill the memory. Default: no limit. */
  maxRows?: number;
};

/**
 * Reads `spec.file` from the bundle and calls `onRow` for each row of the right width that has a
 * key (other rows are problems only). Returns "missing" when the bundle lacks the file,
 * "unreadable" when its rows could not all be read (a bad header, broken quoting), else "read". Problems in
 * rows are recorded and reading goes on, so one run reports many of them.
 */
export async function readTable(
  source: BundleSource,
  spec: ReadSpec,
  report: Report,
  onRow: (row: CsvRow) => void,
  onProgress?: ProgressFn,
): Promise<"missing" | "unreadable" | "read"> {
  const input = await source.open(spec.file);
  if (!input) {
    return "missing";
  }
  // Event mode, not `for await`: a promise per row costs more than the parsing. No `info` either:
  // lines are counted here (each record is one line plus the line breaks inside its quoted fields).
  const parser = parse({ bom: true, relax_column_count: true, max_record_size: MAX_RECORD_CHARS });
  let header: Map<string, number> | undefined;
  let width = 0;
  let nextLine = 1;
  let pending = 0;
  let rows = 0;
  const maxRows = spec.maxRows ?? Number.POSITIVE_INFINITY;
  const key = spec.key ?? "sourcedId";
  const onRecord = (record: string[]): boolean => {
    const line = nextLine;
    nextLine += 1 + newlines(record);
    if (record.length === 1 && record[0] === "") {
      return true; // a blank line
    }
    if (!header) {
      header = checkHeader(spec, record, report);
      width = record.length;
      return header !== undefined;
    }
    rows += 1;
    if (rows > maxRows) {
      report.errors.add(
        spec.file,
        line,
        `has more than ${maxRows} rows, the limit providers.*.maxRecords; stopped reading`,
      );
      return false;
    }
    pending += 1;
    if (pending === ROWS_PER_PAGE) {
      onProgress?.({ pages: 1, records: pending });
      pending = 0;
    }
    if (record.length !== width) {
      report.errors.add(spec.file, line, `has ${record.length} fields, the header has ${width}`);
      return true;
    }
    const row = new CsvRow(spec.file, header, record, line);
    checkRow(spec, row, report);
    if (row.id(key) !== "") {
      onRow(row);
    }
    return true;
  };
  const outcome = await new Promise<"unreadable" | "read">((resolve, reject) => {
    const stop = (result: "unreadable" | "read") => {
      input.unpipe(parser);
      input.destroy();
      parser.destroy();
      resolve(result);
    };
    parser.on("data", (record: string[]) => {
      try {
        if (!onRecord(record)) {
          stop("unreadable");
        }
      } catch (error) {
        input.destroy();
        parser.destroy();
        reject(error);
      }
    });
    parser.on("end", () => resolve("read"));
    parser.on("error", (error) => {
      input.destroy();
      if (!isCsvError(error)) {
        reject(error);
        return;
      }
      const at = typeof error.lines === "number" ? error.lines : undefined;
      report.errors.add(spec.file, at, `not valid CSV: ${error.message.replace(/ at line \d+/, "")}`);
      stop("unreadable");
    });
    input.on("error", (error) => parser.destroy(error));
    input.pipe(parser);
  });
  if (outcome === "unreadable") {
    return outcome;
  }
  if (!header) {
    report.errors.add(spec.file, undefined, "is empty (no header row)");
    return "unreadable";
  }
  if (pending > 0) {
    onProgress?.({ pages: 1, records: pending });
  }
  return "read";
}

function isCsvError(error: unknown): error is CsvError {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && code.startsWith("CSV_");
}

/**
 * The column → index map, or undefined (and an error) when a column the sync reads is missing or a
 * column is repeated. A spec column the sync does not read may be missing (a warning): it reads as blank.
 */
function checkHeader(spec: ReadSpec, record: string[], report: Report): Map<string, number> | undefined {
  const header = new Map<string, number>();
  const repeated: string[] = [];
  // Some exporters write `SourcedId` or `userSourcedID`: a spec column in another case is that
  // column (a warning), so that a bundle is not refused for its capitals.
  const specByLower = new Map(spec.columns.map((c) => [c.toLowerCase(), c]));
  const recased: string[] = [];
  record.forEach((raw, i) => {
    let name = raw.trim();
    const canonical = specByLower.get(name.toLowerCase());
    if (canonical !== undefined && canonical !== name && !record.some((r) => r.trim() === canonical)) {
      recased.push(`${name} as ${canonical}`);
      name = canonical;
    }
    if (header.has(name)) {
      repeated.push(name);
    }
    header.set(name, i);
  });
  const columns = (names: string[]) => `column${names.length > 1 ? "s" : ""} ${names.join(", ")}`;
  const missing = [...spec.use.columns].filter((c) => !header.has(c));
  if (missing.length > 0) {
    report.errors.add(spec.file, 1, `header lacks ${columns(missing)}, which the sync reads`);
  }
  if (repeated.length > 0) {
    report.errors.add(spec.file, 1, `header repeats ${columns(repeated)}`);
  }
  if (recased.length > 0) {
    report.warnings.add(spec.file, 1, `header names ${recased.join(", ")} (the spec's spelling)`);
  }
  const absent = spec.columns.filter((c) => !header.has(c) && !spec.use.columns.has(c));
  if (absent.length > 0) {
    report.warnings.add(spec.file, 1, `header lacks ${columns(absent)} (read as blank)`);
  }
  return missing.length > 0 || repeated.length > 0 ? undefined : header;
}

function checkRow(spec: ReadSpec, row: CsvRow, report: Report): void {
  const blank = [...new Set([...spec.required, ...spec.use.values])].filter(
    (c) => row.has(c) && row.id(c) === "",
  );
  for (const used of [true, false]) {
    const these = blank.filter((c) => spec.use.values.has(c) === used);
    if (these.length > 0) {
      const verb = these.length > 1 ? "are" : "is";
      where(report, used).add(spec.file, row.line, `${these.join(", ")} ${verb} blank`);
    }
  }
  for (const [column, vocabulary] of Object.entries(spec.enums)) {
    const value = row.id(column);
    if (value === "") {
      continue;
    }
    const lower = value.toLowerCase();
    const known =
      vocabulary.values.some((v) => v.toLowerCase() === lower) ||
      (vocabulary.extensible === true && lower.startsWith("ext:"));
    if (!known) {
      where(report, spec.use.columns.has(column) || vocabulary.decides === true).add(
        spec.file,
        row.line,
        `${column} "${value}" is not one of ${vocabulary.values.join(", ")}`,
      );
    }
  }
}
