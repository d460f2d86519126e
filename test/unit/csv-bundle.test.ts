// A whole bundle held in memory: the manifest's rules (versions, bulk/delta/absent), dangling
// references reported with file:line, enrollments marked tobedeleted left out, and the index the
// connector answers from (class members by enrollment role, school members by the users' orgs).
// Loaded without the mappings: every file is needed and every column kept.
import { describe, expect, it } from "vitest";
import { csvTable as csv, loadFiles, MANIFEST, smallBundle as bundle } from "../helpers/csv-source.js";

const load = (files: Record<string, string>) => loadFiles(files);

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
      "users.csv:1: header lacks columns enabledUser, username, givenName, familyName, orgSourcedIds, which the sync reads",
    ]);
  });

  it.each([
    [
      "file.enrollments,bulk",
      "file.enrollments,delta",
      "manifest.csv:9: file.enrollments is delta (refused): only a bulk bundle holds the whole roster, a delta holds changes",
    ],
    [
      "file.users,bulk",
      "file.users,absent",
      'manifest.csv:8: file.users is "absent": every mapping kind (the mappings were not given) needs users.csv in bulk',
    ],
    [
      "file.courses,bulk\n",
      "",
      "manifest.csv: file.courses is not listed: every mapping kind (the mappings were not given) needs courses.csv in bulk",
    ],
    [
      "oneroster.version,1.1",
      "oneroster.version,1.2",
      'manifest.csv:3: oneroster.version is "1.2", expected 1.1',
    ],
  ])("manifest: %s → %s is refused", async (from, to, message) => {
    const { index, problems } = await load(bundle({ "manifest.csv": MANIFEST.replace(from, to) }));
    expect(index).toBeUndefined();
    expect(problems).toEqual([message]);
  });

  it.each([
    [
      "manifest.version,1.0",
      "manifest.version,2.0",
      'manifest.csv:2: manifest.version is "2.0", expected 1.0',
    ],
    ["oneroster.version,1.1\n", "", "manifest.csv: lacks oneroster.version (read as 1.1)"],
    [
      "file.academicSessions,absent",
      "file.academicSessions,sometimes",
      'manifest.csv:4: file.academicSessions "sometimes" is not one of bulk, delta, absent',
    ],
    [
      "file.academicSessions,absent",
      "file.academicSessions,delta",
      "manifest.csv:4: file.academicSessions is delta (not read): only a bulk bundle holds the whole roster, a delta holds changes",
    ],
  ])("manifest: %s → %s is a warning", async (from, to, message) => {
    const { index, problems, warnings } = await load(bundle({ "manifest.csv": MANIFEST.replace(from, to) }));
    expect(problems).toEqual([]);
    expect(index).toBeDefined();
    expect(warnings).toEqual([message]);
  });

  it("a file the manifest lists as bulk must be there", async () => {
    const files: Record<string, string> = bundle();
    delete files["courses.csv"];
    const { problems } = await load(files);
    expect(problems[0]).toBe("courses.csv: is missing (the manifest lists it as bulk)");
  });
});
