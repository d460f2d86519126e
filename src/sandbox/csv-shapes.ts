// The shapes a real export takes besides the full OneRoster 1.1 bulk bundle, applied to the files
// src/sandbox/csv.ts writes, so the CSV connector can be tested against each on the same district:
// - "rostering": a rostering-only export (no academicSessions.csv, `file.academicSessions,absent`,
//   classes' termSourcedIds and courses' schoolYearSourcedId blank).
// - "minimal": only the files a roster is built from and only the columns the spec marks required,
//   columns shuffled, rows shuffled, a BOM before each header, and no `status` column: a bulk file
//   then lists only live records, so the rows the full bundle marks `tobedeleted` are left out.
// `extraColumns` appends that many `metadata.*` columns to every data file (the memory benchmark).
import { createRandom } from "./random.js";

export type CsvShape = "full" | "rostering" | "minimal";

type Value = string | number | null | undefined;

export interface CsvFile {
  name: string;
  header: readonly string[];
  rows: () => Iterable<readonly Value[]>;
  /** Written before the header (a UTF-8 BOM in the minimal shape). */
  prefix?: string;
}

/** OneRoster 1.1 CSV §3: the columns marked "Required: Yes" in each data file. */
const REQUIRED_COLUMNS: Record<string, readonly string[]> = {
  "orgs.csv": ["sourcedId", "name", "type"],
  "courses.csv": ["sourcedId", "title", "orgSourcedId"],
  "classes.csv": ["sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"],
  "users.csv": ["sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"],
  "enrollments.csv": ["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"],
};

/** Blank columns of a rostering-only export: what points at academic sessions. */
const SESSION_COLUMNS: Record<string, string> = {
  "classes.csv": "termSourcedIds",
  "courses.csv": "schoolYearSourcedId",
};

function blankColumn(file: CsvFile, column: string): CsvFile {
  const at = file.header.indexOf(column);
  if (at < 0) {
    return file;
  }
  return {
    ...file,
    rows: function* () {
      for (const row of file.rows()) {
        yield row.map((v, i) => (i === at ? "" : v));
      }
    },
  };
}

function rostering(files: CsvFile[]): CsvFile[] {
  return files
    .filter((f) => f.name !== "academicSessions.csv")
    .map((f) => {
      if (f.name === "manifest.csv") {
        return {
          ...f,
          rows: () =>
            [...f.rows()].map(([name, value]) => [name, name === "file.academicSessions" ? "absent" : value]),
        };
      }
      const column = SESSION_COLUMNS[f.name];
      return column ? blankColumn(f, column) : f;
    });
}

/** The sourcedIds of every row marked tobedeleted, in any file. */
function deletedIds(files: CsvFile[]): Set<string> {
  const ids = new Set<string>();
  for (const f of files) {
    const status = f.header.indexOf("status");
    const id = f.header.indexOf("sourcedId");
    if (status >= 0 && id >= 0) {
      for (const row of f.rows()) {
        if (row[status] === "tobedeleted") {
          ids.add(String(row[id]));
        }
      }
    }
  }
  return ids;
}

function minimal(files: CsvFile[], seed: number): CsvFile[] {
  const random = createRandom(seed).fork("csv-minimal");
  const kept = rostering(files).filter((f) => f.name === "manifest.csv" || REQUIRED_COLUMNS[f.name]);
  // Without a status column a bulk file lists live records only: a deleted user's enrollments go too.
  const deleted = deletedIds(kept);
  return kept.map((f) => {
    const required = REQUIRED_COLUMNS[f.name];
    if (!required) {
      return f;
    }
    const order = random.shuffle(required.map((c) => f.header.indexOf(c)));
    const shuffle = random.fork(f.name);
    return {
      name: f.name,
      prefix: "\uFEFF",
      header: order.map((i) => f.header[i]!),
      rows: () =>
        shuffle
          .shuffle([...f.rows()].filter((row) => !row.some((v) => deleted.has(String(v)))))
          .map((row) => order.map((i) => row[i])),
    };
  });
}

function withExtraColumns(file: CsvFile, count: number): CsvFile {
  if (file.name === "manifest.csv" || count <= 0) {
    return file;
  }
  const names = Array.from({ length: count }, (_, k) => `metadata.extra${k + 1}`);
  return {
    ...file,
    header: [...file.header, ...names],
    rows: function* () {
      let n = 0;
      for (const row of file.rows()) {
        n += 1;
        // Distinct values (not one repeated string) so a reader cannot share them by accident.
        yield [...row, ...names.map((_, k) => `x${k}-${n}-${"v".repeat(12)}`)];
      }
    },
  };
}

export function shapeFiles(
  files: CsvFile[],
  options: { shape?: CsvShape | undefined; extraColumns?: number | undefined; seed: number },
): CsvFile[] {
  const shaped =
    options.shape === "rostering"
      ? rostering(files)
      : options.shape === "minimal"
        ? minimal(files, options.seed)
        : files;
  return shaped.map((f) => withExtraColumns(f, options.extraColumns ?? 0));
}
