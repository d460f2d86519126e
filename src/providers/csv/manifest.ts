// manifest.csv: the bundle's control file (OneRoster 1.1 CSV §2). Every file the sync reads must be
// `bulk`: a `delta` file holds only changes, and syncing changes as if they were the whole roster
// would remove everyone left out of them, so a delta is refused. `oneroster.version` other than 1.1
// is refused (the columns differ); the rest (`manifest.version`, files the sync does not read) is
// held to the spec only as warnings.
import type { CsvNeeds } from "./needs.js";
import { readTable, type Report } from "./parse.js";
import type { BundleSource } from "./source.js";
import { TABLES, type TableName } from "./tables.js";

export const MANIFEST_FILE = "manifest.csv";

const MODES = ["bulk", "delta", "absent"];
const ALWAYS = new Set(["propertyName", "value"]);
const MANIFEST_SPEC = {
  file: MANIFEST_FILE,
  columns: ["propertyName", "value"],
  required: [],
  enums: {},
  key: "propertyName",
  use: { columns: ALWAYS, values: new Set(["propertyName"]) },
};

/**
 * Reads and checks the manifest. Returns the files it lists as `bulk` when the manifest is usable
 * (oneroster.version 1.1, every needed file bulk), else undefined; problems go to `report`.
 */
export async function readManifest(
  source: BundleSource,
  needs: Pick<CsvNeeds, "tables">,
  report: Report,
): Promise<Set<string> | undefined> {
  const { errors, warnings } = report;
  const before = errors.count;
  const properties = new Map<string, { value: string; line: number }>();
  const outcome = await readTable(source, MANIFEST_SPEC, report, (row) => {
    const name = row.id("propertyName");
    if (properties.has(name)) {
      errors.add(MANIFEST_FILE, row.line, `repeats ${name}`);
    }
    properties.set(name, { value: row.id("value"), line: row.line });
  });
  if (outcome === "missing") {
    errors.add(MANIFEST_FILE, undefined, `is missing: ${source.location} is not a OneRoster CSV bundle`);
    return undefined;
  }
  if (outcome === "unreadable") {
    return undefined;
  }
  const version = properties.get("oneroster.version");
  if (!version) {
    warnings.add(MANIFEST_FILE, undefined, "lacks oneroster.version (read as 1.1)");
  } else if (version.value !== "1.1") {
    errors.add(MANIFEST_FILE, version.line, `oneroster.version is "${version.value}", expected 1.1`);
  }
  const manifestVersion = properties.get("manifest.version");
  if (manifestVersion && manifestVersion.value !== "1.0") {
    warnings.add(
      MANIFEST_FILE,
      manifestVersion.line,
      `manifest.version is "${manifestVersion.value}", expected 1.0`,
    );
  }
  const bulk = new Set<string>();
  for (const [name, { value, line }] of properties) {
    if (!name.startsWith("file.")) {
      continue;
    }
    const table = name.slice("file.".length);
    const needed = needs.tables.has(table as TableName);
    const mode = value.toLowerCase();
    if (!MODES.includes(mode)) {
      (needed ? errors : warnings).add(
        MANIFEST_FILE,
        line,
        `${name} "${value}" is not one of ${MODES.join(", ")}`,
      );
    } else if (mode === "bulk") {
      bulk.add(table);
    } else if (mode === "delta") {
      const what = needed ? "refused" : "not read";
      (needed ? errors : warnings).add(
        MANIFEST_FILE,
        line,
        `${name} is delta (${what}): only a bulk bundle holds the whole roster, a delta holds changes`,
      );
    }
  }
  for (const [table, reason] of needs.tables) {
    const property = properties.get(`file.${table}`);
    const mode = property?.value.toLowerCase();
    if (mode === "absent" || mode === undefined) {
      errors.add(
        MANIFEST_FILE,
        property?.line,
        `file.${table} is ${property ? `"${property.value}"` : "not listed"}: ${reason} needs ${TABLES[table].file} in bulk`,
      );
    }
  }
  return errors.count === before ? bulk : undefined;
}
