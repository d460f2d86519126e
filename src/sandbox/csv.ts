// Writes the district the HTTP sandbox serves as a OneRoster 1.1 CSV bundle (bulk), as a folder or a
// .zip, so the CSV connector can be tested and benchmarked against the same roster as the REST one.
// Rows are generated lazily and streamed to disk (or into the zip), one file at a time. Fields are
// quoted as RFC 4180 says: a field holding a comma, a quote, CR or LF is quoted, quotes doubled.
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";
import { shapeFiles, type CsvFile, type CsvShape } from "./csv-shapes.js";
import type { Ref } from "./records.js";
import type { District } from "./roster.js";

export interface CsvBundleOptions {
  /** Write `<dir>/oneroster.zip` instead of the CSV files in `dir`. Default false. */
  zip?: boolean;
  /** Line ending between records. Default "\r\n" (RFC 4180). */
  eol?: "\r\n" | "\n";
  /** full (default) | rostering | minimal: see src/sandbox/csv-shapes.ts. */
  shape?: CsvShape;
  /** `metadata.*` columns appended to every data file. Default 0. */
  extraColumns?: number;
}

export const CSV_ZIP_NAME = "oneroster.zip";

type Value = string | number | null | undefined;

/** One CSV field, quoted when it must be. */
export function csvField(value: Value): string {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (values: readonly Value[]): string => values.map(csvField).join(",");

const ids = (refs: readonly Ref[] | undefined): string => (refs ?? []).map((r) => r.sourcedId).join(",");
const join = (values: readonly string[] | undefined): string => (values ?? []).join(",");

function files(district: District): CsvFile[] {
  const manifest: [string, string][] = [
    ["manifest.version", "1.0"],
    ["oneroster.version", "1.1"],
    ["file.academicSessions", "bulk"],
    ["file.categories", "absent"],
    ["file.classes", "bulk"],
    ["file.classResources", "absent"],
    ["file.courses", "bulk"],
    ["file.courseResources", "absent"],
    ["file.demographics", "absent"],
    ["file.enrollments", "bulk"],
    ["file.lineItems", "absent"],
    ["file.orgs", "bulk"],
    ["file.resources", "absent"],
    ["file.results", "absent"],
    ["file.users", "bulk"],
    ["source.systemName", "roster-sync sandbox"],
    ["source.systemCode", `seed-${district.seed}`],
  ];
  return [
    { name: "manifest.csv", header: ["propertyName", "value"], rows: () => manifest },
    {
      name: "academicSessions.csv",
      header: [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
      ],
      rows: () =>
        district.academicSessions.map((s) => [
          s.sourcedId,
          s.status,
          s.dateLastModified,
          s.title,
          s.type,
          s.startDate,
          s.endDate,
          s.parent?.sourcedId,
          s.schoolYear,
        ]),
    },
    {
      name: "orgs.csv",
      header: ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
      rows: () =>
        district.orgs.map((o) => [
          o.sourcedId,
          o.status,
          o.dateLastModified,
          o.name,
          o.type,
          o.identifier,
          o.parent?.sourcedId,
        ]),
    },
    {
      name: "courses.csv",
      header: [
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
      ],
      rows: () =>
        district.courses.map((c) => [
          c.sourcedId,
          c.status,
          c.dateLastModified,
          c.schoolYear.sourcedId,
          c.title,
          c.courseCode,
          join(c.grades),
          c.org.sourcedId,
          join(c.subjects),
          "",
        ]),
    },
    {
      name: "classes.csv",
      header: [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
      ],
      rows: () =>
        district.classes.map((c) => [
          c.sourcedId,
          c.status,
          c.dateLastModified,
          c.title,
          join(c.grades),
          c.course.sourcedId,
          c.classCode,
          c.classType,
          c.location,
          c.school.sourcedId,
          ids(c.terms),
          join(c.subjects),
          "",
          join(c.periods),
        ]),
    },
    {
      name: "users.csv",
      header: [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
      ],
      rows: () =>
        district.users.map((u) => [
          u.sourcedId,
          u.status,
          u.dateLastModified,
          u.enabledUser,
          ids(u.orgs),
          u.role,
          u.username,
          (u.userIds ?? []).map((id) => `{${id.type}:${id.identifier}}`).join(","),
          u.givenName,
          u.familyName,
          u.middleName,
          u.identifier,
          u.email,
          u.sms,
          u.phone,
          ids(u.agents),
          join(u.grades),
          "",
        ]),
    },
    {
      name: "enrollments.csv",
      header: [
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
      ],
      rows: () =>
        district.enrollments.map((e) => [
          e.sourcedId,
          e.status,
          e.dateLastModified,
          e.class.sourcedId,
          e.school.sourcedId,
          e.user.sourcedId,
          e.role,
          e.primary,
          e.beginDate,
          e.endDate,
        ]),
    },
  ];
}

/** A file's text as a stream, produced a batch of rows at a time. */
function fileStream(file: CsvFile, eol: string): Readable {
  function* chunks(): Generator<string> {
    let batch = (file.prefix ?? "") + csvLine(file.header) + eol;
    for (const row of file.rows()) {
      batch += csvLine(row) + eol;
      if (batch.length > 64 * 1024) {
        yield batch;
        batch = "";
      }
    }
    if (batch) {
      yield batch;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/**
 * Writes the district as a OneRoster 1.1 bulk CSV bundle: the CSV files in `dir` (created if needed),
 * or with `zip: true` one `dir/oneroster.zip`. Returns the bundle's path (the folder or the zip).
 */
export async function writeCsvBundle(
  district: District,
  dir: string,
  options: CsvBundleOptions = {},
): Promise<string> {
  const eol = options.eol ?? "\r\n";
  const bundle = shapeFiles(files(district), { ...options, seed: district.seed });
  await mkdir(dir, { recursive: true });
  if (!options.zip) {
    for (const file of bundle) {
      await pipeline(fileStream(file, eol), createWriteStream(path.join(dir, file.name)));
    }
    return dir;
  }
  const target = path.join(dir, CSV_ZIP_NAME);
  const zip = new yazl.ZipFile();
  const written = pipeline(zip.outputStream, createWriteStream(target));
  for (const file of bundle) {
    zip.addReadStream(fileStream(file, eol), file.name);
  }
  zip.end();
  await written;
  return target;
}
