// Issue 9, item 4: the CSV connector against the shapes real exports take, written from one district
// by the sandbox: a rostering-only bundle (academicSessions absent, classes' termSourcedIds blank)
// and a minimal one (only the files a roster is built from, only the spec's required columns, in
// shuffled order, rows shuffled, BOM, no status column) give the members the full bundle gives, for
// a mapping of each kind, with what departs from the spec counted and named in the run's log.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { createProvider } from "../../src/providers/index.js";
import type { Member } from "../../src/domain.js";
import { FetchCache, resolveMembers } from "../../src/sync/resolve.js";
import { generateDistrict, writeCsvBundle, type CsvShape } from "../../src/sandbox/index.js";
import { mappingFor, type Selection } from "../helpers/resolve.js";

const district = generateDistrict({ seed: 11, schools: 3, studentsPerSchool: 60 });
const middleSchool = district.schools()[0]!;
const twinTitle = district.classes.find(
  (c) => c.school.sourcedId === middleSchool.sourcedId && c.title.startsWith("ELA 6 ("),
)!.title;

const selections: [string, Selection][] = [
  ["classes", { users: "students", groups: [{ type: "classes", match: twinTitle }] }],
  ["courses", { users: "users", groups: [{ type: "courses", match: "Math 7", matchOn: ["title"] }] }],
  ["schools", { users: "students", groups: [{ type: "schools", match: middleSchool.name }] }],
  ["whole directory", { users: "users" }],
];

const config = (bundle: string): ProviderConfig => ({
  ...providerSchema.parse({ type: "csv", path: bundle }),
  name: "csv",
});

function memoryLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** The members of one mapping, read by a connector told that mapping (as sync and worker do). */
async function members(bundle: string, selection: Selection, logger?: pino.Logger): Promise<Member[]> {
  const provider = config(bundle);
  const mapping = mappingFor(provider, selection);
  const csv = createProvider(provider, { logger, mappings: [mapping] });
  try {
    const resolved = await resolveMembers(mapping, new FetchCache(csv));
    return [...resolved.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  } finally {
    await csv.close();
  }
}

/** What the spec's required columns carry: a minimal bundle has no email or grades columns. */
const required = ({ email: _e, grades: _g, ...rest }: Member) => rest;

let dir: string;
const bundles = {} as Record<CsvShape, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "roster-csv-shapes-"));
  bundles.full = await writeCsvBundle(district, path.join(dir, "full"), { extraColumns: 3 });
  bundles.rostering = await writeCsvBundle(district, path.join(dir, "rostering"), { shape: "rostering" });
  // The minimal one as a zip with LF line ends, so both readers and both line ends are covered.
  bundles.minimal = await writeCsvBundle(district, path.join(dir, "minimal"), {
    shape: "minimal",
    zip: true,
    eol: "\n",
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(selections)("a %s mapping", (_kind, selection) => {
  it("a rostering-only bundle gives the full bundle's members", async () => {
    const expected = await members(bundles.full, selection);
    expect(expected.length).toBeGreaterThan(0);
    expect(await members(bundles.rostering, selection)).toEqual(expected);
  });

  it("a minimal bundle gives the full bundle's members (with what its columns carry)", async () => {
    const expected = await members(bundles.full, selection);
    expect((await members(bundles.minimal, selection)).map(required)).toEqual(expected.map(required));
  });
});

describe("what departs from the spec in what the sync does not read", () => {
  it("is counted and the first few named with file:line in the run's log, and in tolerated()", async () => {
    const { logger, lines } = memoryLogger();
    await members(bundles.rostering, selections[0]![1], logger);
    const warning = lines.find((l) => l.level === 40)!;
    expect(warning).toMatchObject({ provider: "csv", bundle: bundles.rostering });
    expect(warning.msg).toMatch(/^CSV bundle has \d+ departures from the OneRoster 1\.1 CSV spec/);
    expect(warning.warnings).toBe(district.classes.length);
    expect(warning.first).toEqual([2, 3, 4, 5, 6].map((n) => `classes.csv:${n}: termSourcedIds is blank`));

    const csv = createProvider(config(bundles.minimal));
    await csv.check();
    const { count, shown } = csv.tolerated!();
    expect(shown[0]).toMatch(
      /^orgs\.csv:1: header lacks columns status, dateLastModified, identifier, parentSourcedId/,
    );
    expect(count).toBeGreaterThanOrEqual(5);
  });
});

describe("item 6: the extension columns of a bundle", () => {
  it("are not kept unless a mapping uses one (include here), by a connector told its mappings", async () => {
    const provider = config(bundles.full);
    const include: Selection = { users: "students", include: { "metadata.extra2": ["x1-1-vvvvvvvvvvvv"] } };
    const plain = createProvider(provider, { mappings: [mappingFor(provider, { users: "students" })] });
    const named = createProvider(provider, { mappings: [mappingFor(provider, include)] });
    const [user] = await plain.allUsers("students");
    expect(Object.keys(user!.raw).filter((k) => k.startsWith("metadata."))).toEqual([]);
    expect(user!.raw).not.toHaveProperty("phone");
    const [same] = await named.allUsers("students");
    expect(Object.keys(same!.raw).filter((k) => k.startsWith("metadata."))).toEqual(["metadata.extra2"]);
  });
});
