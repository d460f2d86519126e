// An in-memory CSV bundle for the CSV connector's unit tests, a small clean one to vary, and loading
// one for the needs of given mappings.
import { Readable } from "node:stream";
import { providerSchema } from "../../src/config/schema.js";
import { loadBundle } from "../../src/providers/csv/bundle.js";
import { csvNeeds, type CsvNeeds } from "../../src/providers/csv/needs.js";
import { formatProblem, Problems, type Report } from "../../src/providers/csv/parse.js";
import type { BundleSource } from "../../src/providers/csv/source.js";
import { TABLES } from "../../src/providers/csv/tables.js";
import { mappingFor, type Selection } from "./resolve.js";

/** A bundle held in memory, each file delivered in small chunks (to cross chunk boundaries). */
export function memorySource(files: Record<string, string>, chunk = 7): BundleSource {
  return {
    location: "memory",
    async open(name) {
      const text = files[name];
      if (text === undefined) {
        return undefined;
      }
      const bytes = Buffer.from(text, "utf8");
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += chunk) {
        parts.push(bytes.subarray(i, i + chunk));
      }
      return Readable.from(parts);
    },
    async close() {},
  };
}

/** A file of the table with its spec header and these rows. */
export const csvTable = (table: keyof typeof TABLES, ...rows: string[]): string =>
  [TABLES[table].columns.join(","), ...rows].join("\n");

export const MANIFEST = [
  "propertyName,value",
  "manifest.version,1.0",
  "oneroster.version,1.1",
  "file.academicSessions,absent",
  "file.orgs,bulk",
  "file.courses,bulk",
  "file.classes,bulk",
  "file.users,bulk",
  "file.enrollments,bulk",
].join("\n");

/** A small clean bundle: a district, two schools, a course of two classes, four users. */
export function smallBundle(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    "manifest.csv": MANIFEST,
    "orgs.csv": csvTable(
      "orgs",
      "d1,active,,District,district,D,",
      "s1,active,,North High,school,1,d1",
      "s2,,,South,school,2,d1",
    ),
    "courses.csv": csvTable("courses", "c1,active,,,Math 9,M9,09,s1,Math,"),
    "classes.csv": csvTable(
      "classes",
      'k1,active,,Math 9 (A),09,c1,M9-1,scheduled,101,s1,t1,Math,,"1,2"',
      "k2,active,,Math 9 (B),09,c1,M9-2,scheduled,102,s1,t1,Math,,3",
    ),
    "users.csv": csvTable(
      "users",
      'u1,active,,true,s1,student,ana,{LDAP:ana},Ana,Ruiz,,1001,ana@x.org,,,,"09",secret',
      'u2,active,,true,"s1,s2",teacher,bo,,Bo,Li,,T1,bo@x.org,,,,,',
      "u3,tobedeleted,,true,s1,student,cy,,Cy,Ng,,1003,,,,,09,",
      "u4,active,,false,s2,student,di,,Di,Oz,,1004,,,,,10,",
    ),
    "enrollments.csv": csvTable(
      "enrollments",
      "e1,active,,k1,s1,u1,student,false,,",
      "e2,active,,k1,s1,u2,teacher,true,,",
      "e3,tobedeleted,,k2,s1,u1,student,false,,",
      "e4,,,k2,s1,u3,student,false,,",
      "e5,active,,k1,s1,u1,student,false,,",
    ),
    ...overrides,
  };
}

const PROVIDER = { ...providerSchema.parse({ type: "csv", path: "memory" }), name: "csv" };

/** The needs of these selections (as mappings of one provider), or of unknown mappings (undefined). */
export function needsOf(selections?: Selection[]): CsvNeeds {
  return csvNeeds(
    PROVIDER,
    selections?.map((s, i) => ({ ...mappingFor(PROVIDER, s), name: `m${i}` })),
  );
}

/** Loads the bundle for those needs: the index (undefined on errors) and the problems as text. */
export async function loadFiles(files: Record<string, string>, selections?: Selection[]) {
  const report: Report = { errors: new Problems(), warnings: new Problems() };
  const index = await loadBundle(memorySource(files), needsOf(selections), report);
  return {
    index,
    problems: report.errors.list.map(formatProblem),
    warnings: report.warnings.list.map(formatProblem),
    warningCount: report.warnings.count,
  };
}
