// manifest.csv: the bundle's control file (OneRoster 1.1 CSV §2). We accept `manifest.version` 1.0
// and `oneroster.version` 1.1, and need every file a roster is built from to be `bulk`: a `delta`
// file holds only changes, and syncing changes as if they were the whole roster would remove
// everyone left out of them.
import { readTable, type Problems } from "./parse.js";
import type { BundleSource } from "./source.js";
import { REQUIRED_TABLES, TABLES } from "./tables.js";

export const MANIFEST_FILE = "manifest.csv";

const EXPECTED = { "manifest.version": "1.0", "oneroster.version": "1.1" } as const;
const MODES = ["bulk", "delta", "absent"];

/**
 * Reads and checks the manifest; problems are recorded (a missing manifest is one). Returns true
 * when the manifest is usable: the versions match and every required file is `bulk`.
 */
export async function readManifest(source: BundleSource, problems: Problems): Promise<boolean> {
  const before = problems.count;
  const properties = new Map<string, { value: string; line: number }>();
  const outcome = await readTable(
    source,
    { file: MANIFEST_FILE, columns: ["propertyName", "value"], required: [], enums: {}, key: "propertyName" },
    problems,
    (row) => {
      const name = row.id("propertyName");
      if (properties.has(name)) {
        problems.add(MANIFEST_FILE, row.line, `repeats ${name}`);
      }
      properties.set(name, { value: row.id("value"), line: row.line });
    },
  );
  if (outcome === "missing") {
    problems.add(MANIFEST_FILE, undefined, `is missing: ${source.location} is not a OneRoster CSV bundle`);
    return false;
  }
  if (outcome === "unreadable") {
    return false;
  }
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const found = properties.get(name);
    if (!found) {
      problems.add(MANIFEST_FILE, undefined, `lacks ${name} (expected ${expected})`);
    } else if (found.value !== expected) {
      problems.add(MANIFEST_FILE, found.line, `${name} is "${found.value}", expected ${expected}`);
    }
  }
  for (const [name, { value, line }] of properties) {
    if (name.startsWith("file.") && !MODES.includes(value.toLowerCase())) {
      problems.add(MANIFEST_FILE, line, `${name} "${value}" is not one of ${MODES.join(", ")}`);
    }
  }
  for (const table of REQUIRED_TABLES) {
    const property = properties.get(`file.${table}`);
    const mode = property?.value.toLowerCase();
    if (mode === "delta") {
      problems.add(
        MANIFEST_FILE,
        property?.line,
        `file.${table} is delta: only a bulk bundle holds the whole roster, a delta holds changes`,
      );
    } else if (mode !== "bulk") {
      problems.add(
        MANIFEST_FILE,
        property?.line,
        `file.${table} is ${property ? `"${property.value}"` : "not listed"}: a roster needs ${TABLES[table].file} in bulk`,
      );
    }
  }
  return problems.count === before;
}
