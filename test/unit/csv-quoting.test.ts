// CSV quoting in the sandbox's bundle writer, and a round trip: names with commas, quotes, line
// breaks and accents, written as a bundle (folder and zip) and read back by the CSV connector, give
// the users that OneRoster's JSON records of the same District normalise to.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerSchema } from "../../src/config/schema.js";
import { CsvConnector } from "../../src/providers/csv/connector.js";
import { normaliseUser } from "../../src/providers/oneroster/normalise.js";
import { csvField, csvLine, generateDistrict, writeCsvBundle } from "../../src/sandbox/index.js";

describe("csvField", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rhere", '"cr\rhere"'],
    ["Zoë Ñúñez", "Zoë Ñúñez"],
    ["", ""],
  ])("%j → %j", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it("writes null and undefined as blank, numbers as text", () => {
    expect(csvLine([null, undefined, 7, "x"])).toBe(",,7,x");
  });
});

describe("a bundle round trip keeps every character", () => {
  const district = generateDistrict({ seed: 3, schools: 2, studentsPerSchool: 12 });
  const odd = {
    "stu-01-0005": { givenName: 'Mary "May", Jr.', familyName: "O'Brien-Núñez" },
    "stu-01-0006": { givenName: "Line\r\nBreak", familyName: "Ødegård, Åse" },
    "tch-01-001": { givenName: "Zoë", familyName: 'Łukasz "Luke"', email: "zoe,luke@example.org" },
  };
  for (const [id, fields] of Object.entries(odd)) {
    district.updateUser(id, fields);
  }
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "roster-csv-quoting-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([false, true])("zip: %s", async (zip) => {
    const bundle = await writeCsvBundle(district, path.join(dir, String(zip)), { zip });
    if (!zip) {
      const text = await readFile(path.join(bundle, "users.csv"), "utf8");
      expect(text).toContain('"Mary ""May"", Jr.",O\'Brien-Núñez');
    }
    const connector = new CsvConnector({
      ...providerSchema.parse({ type: "csv", path: bundle }),
      name: "csv",
    });
    const users = await connector.allUsers("users");
    const expected = district.users.map((u) => normaliseUser(JSON.parse(JSON.stringify(u))));
    const strip = ({ raw: _raw, ...user }: { raw: unknown }) => user;
    expect(users.map(strip)).toEqual(expected.map(strip));
    const byId = new Map(users.map((u) => [u.sourcedId, u]));
    expect(byId.get("stu-01-0006")!.givenName).toBe("Line\r\nBreak");
    expect(byId.get("tch-01-001")!.email).toBe("zoe,luke@example.org");
  });
});
