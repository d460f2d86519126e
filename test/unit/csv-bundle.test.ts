// A whole bundle held in memory: the manifest's rules (versions, bulk/delta/absent), dangling
// references reported with file:line, enrollments marked tobedeleted left out, and the index the
// connector answers from (class members by enrollment role, school members by the users' orgs).
import { describe, expect, it } from "vitest";
import { loadBundle } from "../../src/providers/csv/bundle.js";
import { formatProblem, Problems } from "../../src/providers/csv/parse.js";
import { TABLES } from "../../src/providers/csv/tables.js";
import { memorySource } from "../helpers/csv-source.js";

const csv = (table: keyof typeof TABLES, ...rows: string[]) =>
  [TABLES[table].columns.join(","), ...rows].join("\n");

const MANIFEST = [
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

function bundle(overrides: Record<string, string> = {}) {
  return {
    "manifest.csv": MANIFEST,
    "orgs.csv": csv(
      "orgs",
      "d1,active,,District,district,D,",
      "s1,active,,North High,school,1,d1",
      "s2,,,South,school,2,d1",
    ),
    "courses.csv": csv("courses", "c1,active,,,Math 9,M9,09,s1,Math,"),
    "classes.csv": csv(
      "classes",
      'k1,active,,Math 9 (A),09,c1,M9-1,scheduled,101,s1,t1,Math,,"1,2"',
      "k2,active,,Math 9 (B),09,c1,M9-2,scheduled,102,s1,t1,Math,,3",
    ),
    "users.csv": csv(
      "users",
      'u1,active,,true,s1,student,ana,{LDAP:ana},Ana,Ruiz,,1001,ana@x.org,,,,"09",secret',
      'u2,active,,true,"s1,s2",teacher,bo,,Bo,Li,,T1,bo@x.org,,,,,',
      "u3,tobedeleted,,true,s1,student,cy,,Cy,Ng,,1003,,,,,09,",
      "u4,active,,false,s2,student,di,,Di,Oz,,1004,,,,,10,",
    ),
    "enrollments.csv": csv(
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

async function load(files: Record<string, string>) {
  const problems = new Problems();
  const index = await loadBundle(memorySource(files), problems);
  return { index, problems: problems.list.map(formatProblem) };
}

describe("loadBundle", () => {
  it("indexes a clean bundle as OneRoster's endpoints see it", async () => {
    const { index, problems } = await load(bundle());
    expect(problems).toEqual([]);
    expect(index!.schools.map((s) => s.sourcedId)).toEqual(["s1", "s2"]);
    expect(index!.classes[0]!.fields).toMatchObject({
      title: "Math 9 (A)",
      grades: ["09"],
      periods: ["1", "2"],
      course: { sourcedId: "c1" },
      school: { sourcedId: "s1" },
    });
    expect(index!.classesByCourse.get("c1")!.map((c) => c.sourcedId)).toEqual(["k1", "k2"]);
    // k1: u1 twice (callers de-duplicate) and u2 as teacher; k2: e3 is tobedeleted, so only u3.
    const k1 = index!.classMembers.get("k1")!;
    expect(k1.students.map((u) => u.sourcedId)).toEqual(["u1", "u1"]);
    expect(k1.teachers.map((u) => u.sourcedId)).toEqual(["u2"]);
    expect(index!.classMembers.get("k2")!.students.map((u) => u.sourcedId)).toEqual(["u3"]);
    expect(index!.usersByOrg.get("s2")!.map((u) => u.sourcedId)).toEqual(["u2", "u4"]);
    const [ana] = index!.users;
    expect(ana).toMatchObject({
      sourcedId: "u1",
      role: "student",
      username: "ana",
      email: "ana@x.org",
      grades: ["09"],
      orgs: ["s1"],
      status: "active",
      enabledUser: true,
    });
    expect(ana!.raw.userIds).toEqual([{ type: "LDAP", identifier: "ana" }]);
    expect(ana!.raw).not.toHaveProperty("password");
    expect(index!.users.find((u) => u.sourcedId === "u4")!.enabledUser).toBe(false);
  });

  it("dangling references and repeated ids, with file:line", async () => {
    const { index, problems } = await load(
      bundle({
        "classes.csv": csv(
          "classes",
          "k1,active,,A,09,c9,A-1,scheduled,1,s1,t1,,,",
          "k1,active,,B,09,c1,B-1,scheduled,1,s9,t1,,,",
        ),
        "enrollments.csv": csv(
          "enrollments",
          "e1,active,,k1,s1,u9,student,,,",
          "e2,active,,k7,s1,u1,teacher,,,",
        ),
      }),
    );
    expect(index).toBeUndefined();
    expect(problems).toEqual([
      'classes.csv:2: courseSourcedId "c9" is not in courses.csv',
      'classes.csv:3: sourcedId "k1" repeats an earlier row',
      'enrollments.csv:2: userSourcedId "u9" is not in users.csv',
      'enrollments.csv:3: classSourcedId "k7" is not in classes.csv',
    ]);
  });

  it("does not pile up reference errors behind a file it could not read", async () => {
    const { problems } = await load(bundle({ "users.csv": "sourcedId,role\nu1,student\n" }));
    expect(problems).toEqual([
      "users.csv:1: header lacks required columns status, dateLastModified, enabledUser, orgSourcedIds, username, userIds, givenName, familyName, middleName, identifier, email, sms, phone, agentSourcedIds, grades, password",
    ]);
  });

  it.each([
    [
      "manifest.version,1.0",
      "manifest.version,2.0",
      'manifest.csv:2: manifest.version is "2.0", expected 1.0',
    ],
    ["oneroster.version,1.1\n", "", "manifest.csv: lacks oneroster.version (expected 1.1)"],
    [
      "file.enrollments,bulk",
      "file.enrollments,delta",
      "manifest.csv:9: file.enrollments is delta: only a bulk bundle holds the whole roster, a delta holds changes",
    ],
    [
      "file.users,bulk",
      "file.users,absent",
      'manifest.csv:8: file.users is "absent": a roster needs users.csv in bulk',
    ],
    [
      "file.courses,bulk\n",
      "",
      "manifest.csv: file.courses is not listed: a roster needs courses.csv in bulk",
    ],
    [
      "file.academicSessions,absent",
      "file.academicSessions,sometimes",
      'manifest.csv:4: file.academicSessions "sometimes" is not one of bulk, delta, absent',
    ],
  ])("manifest: %s → %s is refused", async (from, to, message) => {
    const { index, problems } = await load(bundle({ "manifest.csv": MANIFEST.replace(from, to) }));
    expect(index).toBeUndefined();
    expect(problems).toEqual([message]);
  });

  it("a file the manifest lists as bulk must be there", async () => {
    const files: Record<string, string> = bundle();
    delete files["courses.csv"];
    const { problems } = await load(files);
    expect(problems[0]).toBe("courses.csv: is missing (the manifest lists it as bulk)");
  });
});
