// The CSV bundle connector against bundles written from the same District the HTTP sandbox serves,
// as a folder and as a .zip: every mapping resolves to exactly the members (attributes included)
// that the OneRoster 1.1 connector gets over HTTP. A dirty bundle, a missing file or a bad manifest
// fails the fetch with file:line and yields nothing.
import { appendFile, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { validateCommand } from "../../src/cli/validate.js";
import { parseConfig } from "../../src/config/load.js";
import { providerSchema, type ProviderConfig } from "../../src/config/schema.js";
import { CsvBundleError } from "../../src/providers/csv/connector.js";
import { createProvider } from "../../src/providers/index.js";
import type { Provider } from "../../src/providers/types.js";
import { generateDistrict, startSandbox, writeCsvBundle, type Sandbox } from "../../src/sandbox/index.js";
import { providerError, resolvedMembers, type Selection } from "../helpers/resolve.js";

function csvConfig(bundle: string): ProviderConfig {
  return { ...providerSchema.parse({ type: "csv", path: bundle }), name: "csv" };
}

function oneRosterConfig(sandbox: Sandbox): ProviderConfig {
  const parsed = providerSchema.parse({
    type: "oneroster",
    baseUrl: sandbox.url,
    auth: { method: "none" },
    pageSize: 500,
    rateLimit: { requestsPerSecond: 1000, concurrency: 4 },
    timeoutMs: 5000,
  });
  return { ...parsed, name: "oneroster" };
}

const district = generateDistrict({ seed: 7, schools: 3, studentsPerSchool: 80 });
let dir: string;
let sandbox: Sandbox;
let oneRoster: Provider;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "roster-csv-"));
  sandbox = await startSandbox({ port: 0, district, auth: "none" });
  oneRoster = createProvider(oneRosterConfig(sandbox));
});
afterAll(async () => {
  await oneRoster?.close();
  await sandbox?.close();
  await rm(dir, { recursive: true, force: true });
});

const middleSchool = district.schools()[0]!;
const twinTitle = district.classes.find(
  (c) => c.school.sourcedId === middleSchool.sourcedId && c.title.startsWith("ELA 6 ("),
)!.title;

const selections: [string, Selection][] = [
  ["all students", { users: "students" }],
  ["all teachers", { users: "teachers" }],
  ["every user", { users: "users" }],
  [
    `a class title shared by sections (${twinTitle})`,
    { users: "students", groups: [{ type: "classes", match: twinTitle }] },
  ],
  ["a school by name", { users: "students", groups: [{ type: "schools", match: middleSchool.name }] }],
  [
    "a school's teachers",
    { users: "teachers", groups: [{ type: "schools", match: middleSchool.sourcedId }] },
  ],
  [
    "a course by title",
    { users: "students", groups: [{ type: "courses", match: "Math 7", matchOn: ["title"] }] },
  ],
  [
    "include grades",
    {
      users: "students",
      groups: [{ type: "schools", match: middleSchool.name }],
      include: { grades: ["06", "08"] },
    },
  ],
];

describe.each([
  ["folder", false],
  ["zip", true],
])("a CSV bundle as a %s", (_label, zip) => {
  let bundle: string;
  let csv: Provider;

  beforeAll(async () => {
    bundle = await writeCsvBundle(district, path.join(dir, zip ? "zipped" : "folder"), { zip });
    csv = createProvider(csvConfig(bundle));
  });
  afterAll(async () => {
    await csv?.close();
  });

  it.each(selections)("%s: the same members as OneRoster 1.1 over HTTP", async (_name, selection) => {
    const expected = await resolvedMembers(oneRoster, oneRosterConfig(sandbox), selection);
    const got = await resolvedMembers(csv, csvConfig(bundle), selection);
    expect(expected.length).toBeGreaterThan(0);
    expect(got).toEqual(expected);
  });

  it("is read once however many concurrent calls want it, and check() passes", async () => {
    const fresh = createProvider(csvConfig(bundle));
    let pages = 0;
    const [classes, users, schools] = await Promise.all([
      fresh.listGroups("classes", (p) => (pages += p.pages)),
      fresh.allUsers("users", (p) => (pages += p.pages)),
      fresh.listGroups("schools"),
    ]);
    expect(classes).toHaveLength(district.classes.length);
    expect(users).toHaveLength(district.users.length);
    expect(schools.map((s) => s.sourcedId)).toEqual(district.schools().map((s) => s.sourcedId));
    // One load: one progress "page" per file (each under 10k rows), not one per call.
    expect(pages).toBe(5);
    expect(await fresh.allUsers("users")).toBe(users);
    await expect(fresh.check()).resolves.toBeUndefined();
    expect(fresh.stats).toEqual({ requests: 0, retries: 0, status429: 0 });
  });
});

describe("a bundle with problems fails the whole fetch", () => {
  const fresh = async (name: string): Promise<string> => writeCsvBundle(district, path.join(dir, name));

  it("a dirty row: file and line in the error, and no members at all", async () => {
    const bundle = await fresh("dirty");
    const file = path.join(bundle, "enrollments.csv");
    const lines = (await readFile(file, "utf8")).split("\r\n").length; // the last "line" is the empty tail
    await appendFile(file, "enr-bad,active,,cls-nope,sch-01,stu-01-0001,student,true,,\r\n");
    await appendFile(file, "enr-bad2,active,,,sch-01,stu-01-0001,studnet,true,,\r\n");
    const csv = createProvider(csvConfig(bundle));
    const error = await providerError(resolvedMembers(csv, csvConfig(bundle), { users: "students" }));
    expect(error).toBeInstanceOf(CsvBundleError);
    expect(error.message).toContain(
      `enrollments.csv:${lines}: classSourcedId "cls-nope" is not in classes.csv`,
    );
    expect(error.message).toContain(`enrollments.csv:${lines + 1}: classSourcedId is blank`);
    expect(error.message).toContain(`enrollments.csv:${lines + 1}: role "studnet" is not one of`);
    expect((error as CsvBundleError).problemCount).toBe(3);
    // Every later call fails the same way: nothing partial is ever handed out.
    await expect(csv.listGroups("classes")).rejects.toBe(error);
    // check() reads the bundle as a fetch does (validate names the same lines).
    await expect(csv.check()).rejects.toBe(error);
  });

  it("a missing users.csv", async () => {
    const bundle = await fresh("no-users");
    await unlink(path.join(bundle, "users.csv"));
    const error = await providerError(createProvider(csvConfig(bundle)).allUsers("students"));
    expect(error.message).toContain("users.csv: is missing (the manifest lists it as bulk)");
  });

  it("a bad manifest, for fetches and for check()", async () => {
    const bundle = await fresh("bad-manifest");
    const file = path.join(bundle, "manifest.csv");
    const text = (await readFile(file, "utf8")).replace("oneroster.version,1.1", "oneroster.version,1.2");
    await writeFile(file, text.replace("file.users,bulk", "file.users,delta"));
    const csv = createProvider(csvConfig(bundle));
    const error = await providerError(csv.check());
    expect(error.message).toContain('manifest.csv:3: oneroster.version is "1.2", expected 1.1');
    expect(error.message).toMatch(/manifest\.csv:\d+: file\.users is delta/);
    await expect(csv.allUsers("students")).rejects.toThrow(/oneroster\.version/);
  });

  it("no manifest, or no bundle at all", async () => {
    const bundle = await fresh("no-manifest");
    await unlink(path.join(bundle, "manifest.csv"));
    expect((await providerError(createProvider(csvConfig(bundle)).check())).message).toContain(
      "manifest.csv: is missing",
    );
    const nowhere = path.join(dir, "nowhere.zip");
    expect((await providerError(createProvider(csvConfig(nowhere)).allUsers("users"))).message).toContain(
      `${nowhere} does not exist`,
    );
    await writeFile(path.join(dir, "garbage.zip"), "not a zip");
    expect(
      (await providerError(createProvider(csvConfig(path.join(dir, "garbage.zip"))).check())).message,
    ).toMatch(/is not a readable zip/);
  });
});

describe("validate (issue 9, item 4)", () => {
  async function validate(bundle: string, mapping: string): Promise<{ code: number; out: string }> {
    const config = parseConfig(
      ["providers:", "  export:", "    type: csv", `    path: ${bundle}`, "mappings:", `  - ${mapping}`].join(
        "\n",
      ),
      path.join(dir, "validate.yaml"),
      {},
    );
    let out = "";
    const ctx = {
      config,
      logger: pino({ level: "silent" }),
      json: false,
      database: () => Promise.reject(new Error("validate opens no database")),
      close: async () => undefined,
    };
    const code = await validateCommand(ctx, {}, (text) => (out += text));
    return { code, out };
  }

  it("passes a rostering-only bundle and names what departs from the spec with file:line", async () => {
    const bundle = await writeCsvBundle(district, path.join(dir, "validate-rostering"), {
      shape: "rostering",
    });
    const { code, out } = await validate(
      bundle,
      `{ name: ela, provider: export, users: students, groups: [{ type: classes, match: "${twinTitle}" }], product: p }`,
    );
    expect(code).toBe(0);
    expect(out).toContain(
      `provider export: ${district.classes.length} warning(s), in what the sync does not read:`,
    );
    expect(out).toContain("  classes.csv:2: termSourcedIds is blank\n");
  });

  it("fails a bundle missing what a mapping needs, with file:line", async () => {
    const bundle = await writeCsvBundle(district, path.join(dir, "validate-no-title"), { shape: "minimal" });
    const file = path.join(bundle, "courses.csv");
    await writeFile(file, (await readFile(file, "utf8")).replace(/^\uFEFF/, "").replace("title", "name"));
    const { code, out } = await validate(
      bundle,
      "{ name: math, provider: export, users: students, groups: [{ type: courses, match: Math 7, matchOn: [title] }], product: p }",
    );
    expect(code).toBe(1);
    expect(out).toContain("courses.csv:1: header lacks column title, which the sync reads");
  });
});

describe("config", () => {
  it("a relative path is relative to the config file's folder", () => {
    const file = path.join(dir, "conf", "sync.config.yaml");
    const config = parseConfig(
      [
        "providers:",
        "  export:",
        "    type: csv",
        "    path: ../bundles/oneroster.zip",
        "mappings:",
        "  - { name: all, provider: export, users: students, product: p }",
      ].join("\n"),
      file,
      {},
    );
    expect(config.providers.export!.path).toBe(path.join(dir, "bundles", "oneroster.zip"));
  });
});
