// Issue 9, items 4 and 6: a bundle is held to what the mappings read. A file no mapping needs may
// be absent or broken; a file one needs must be there in bulk (a delta is refused); keys, roles,
// statuses, matched fields and the references membership follows must be right, with file:line;
// everything else is a warning. Only the fields the mappings use are kept.
import { describe, expect, it } from "vitest";
import { csvTable as csv, loadFiles, MANIFEST, smallBundle } from "../helpers/csv-source.js";
import type { Selection } from "../helpers/resolve.js";

const classes: Selection = { users: "students", groups: [{ type: "classes", match: "Math 9 (A)" }] };
const courses: Selection = { users: "students", groups: [{ type: "courses", match: "Math 9" }] };
const schools: Selection = { users: "students", groups: [{ type: "schools", match: "North High" }] };
const directory: Selection = { users: "students" };

const absent = (...tables: string[]) =>
  tables.reduce((m, t) => m.replace(`file.${t},bulk`, `file.${t},absent`), MANIFEST);

function without(files: Record<string, string>, ...names: string[]): Record<string, string> {
  const out = { ...files };
  for (const name of names) {
    delete out[name];
  }
  return out;
}

describe("files: what the mappings need", () => {
  it("a whole-directory mapping needs users.csv alone", async () => {
    const files = without(smallBundle(), "orgs.csv", "courses.csv", "classes.csv", "enrollments.csv");
    const { index, problems } = await loadFiles(
      { ...files, "manifest.csv": absent("orgs", "courses", "classes", "enrollments") },
      [directory],
    );
    expect(problems).toEqual([]);
    expect(index!.users.map((u) => u.sourcedId)).toEqual(["u1", "u2", "u3", "u4"]);
  });

  it("a classes mapping does not need courses.csv; a courses mapping does, named in the error", async () => {
    const files = { ...without(smallBundle(), "courses.csv"), "manifest.csv": absent("courses") };
    const forClasses = await loadFiles(files, [classes]);
    expect(forClasses.problems).toEqual([]);
    expect(forClasses.index!.classMembers.get("k1")!.students.map((u) => u.sourcedId)).toEqual(["u1", "u1"]);
    const forCourses = await loadFiles(files, [classes, courses]);
    expect(forCourses.index).toBeUndefined();
    expect(forCourses.problems).toEqual([
      'manifest.csv:6: file.courses is "absent": mapping m1 (a courses group) needs courses.csv in bulk',
    ]);
  });

  it("a schools mapping needs orgs.csv; a bulk file that is not there is an error", async () => {
    const { problems } = await loadFiles(without(smallBundle(), "orgs.csv"), [schools]);
    expect(problems).toEqual(["orgs.csv: is missing (the manifest lists it as bulk)"]);
  });

  it("a delta is refused when the sync reads the file, with the manifest's line", async () => {
    const { index, problems } = await loadFiles(
      smallBundle({ "manifest.csv": MANIFEST.replace("file.users,bulk", "file.users,delta") }),
      [directory],
    );
    expect(index).toBeUndefined();
    expect(problems).toEqual([
      "manifest.csv:8: file.users is delta (refused): only a bulk bundle holds the whole roster, a delta holds changes",
    ]);
  });
});

describe("rows: strict about what the sync reads, lenient about the rest", () => {
  it("blank status and dateLastModified in bulk, blank terms and unread dangling references: warnings or nothing", async () => {
    const { index, problems, warnings } = await loadFiles(
      smallBundle({
        "classes.csv": csv(
          "classes",
          "k1,,,Math 9 (A),09,c1,M9-1,lab,101,s9,,Math,,", // unknown classType, school not in orgs, no term
          "k2,,,Math 9 (B),09,c1,M9-2,scheduled,102,s1,t1,Math,,3",
        ),
        "enrollments.csv": csv(
          "enrollments",
          ",,,k1,s1,u1,student,maybe,,", // no sourcedId, bad `primary`: still a membership
          "e2,tobedeleted,,k1,s1,u9,student,,,", // a deleted row pointing nowhere
        ),
      }),
      [classes],
    );
    expect(problems).toEqual([]);
    expect(index!.classMembers.get("k1")!.students.map((u) => u.sourcedId)).toEqual(["u1"]);
    expect(warnings).toEqual([
      "classes.csv:2: termSourcedIds is blank",
      'classes.csv:2: classType "lab" is not one of homeroom, scheduled',
      "enrollments.csv:2: sourcedId is blank",
      'enrollments.csv:2: primary "maybe" is not one of true, false',
      'enrollments.csv:3: userSourcedId "u9" is not in users.csv',
    ]);
  });

  it("what membership depends on still fails the load with file:line", async () => {
    const { index, problems } = await loadFiles(
      smallBundle({
        "classes.csv": csv(
          "classes",
          "k1,active,,,09,c1,M9-1,scheduled,101,s1,t1,Math,,", // blank title: the mapping matches on it
          "k1,active,,Math 9 (B),09,c9,M9-2,scheduled,102,s1,t1,Math,,3", // repeated id, unknown course
        ),
        "users.csv": csv(
          "users",
          "u1,active,,true,s1,,ana,,Ana,Ruiz,,,,,,,,", // blank role
          "u2,retired,,yes,s1,teacher,bo,,Bo,Li,,,,,,,,", // bad status, bad enabledUser
        ),
        "enrollments.csv": csv("enrollments", "e1,active,,k1,s1,u7,student,,,"),
      }),
      [classes, courses],
    );
    expect(index).toBeUndefined();
    expect(problems).toEqual([
      "classes.csv:2: title is blank",
      'classes.csv:3: sourcedId "k1" repeats an earlier row',
      "users.csv:2: role is blank",
      'users.csv:3: status "retired" is not one of active, tobedeleted',
      'users.csv:3: enabledUser "yes" is not one of true, false',
      'enrollments.csv:2: userSourcedId "u7" is not in users.csv',
    ]);
  });

  it("a column a mapping names (include, matchOn) must be in the header", async () => {
    const selection: Selection = {
      users: "students",
      groups: [{ type: "classes", match: "X1", matchOn: ["metadata.code"] }],
      include: { "metadata.house": ["red"] },
    };
    const { problems } = await loadFiles(smallBundle(), [selection]);
    expect(problems).toEqual([
      "classes.csv:1: header lacks column metadata.code, which the sync reads",
      "users.csv:1: header lacks column metadata.house, which the sync reads",
    ]);
  });
});

describe("what is kept (item 6)", () => {
  const files = smallBundle({
    "users.csv": csv(
      "users",
      "u1,active,,true,s1,student,ana,{LDAP:ana},Ana,Ruiz,M,1001,a@x.org,555,556,,09,pw",
    )
      .replace("\n", ",metadata.house,metadata.notes\n")
      .concat(",red,a long note"),
    "classes.csv": csv("classes", "k1,active,,Math 9 (A),09,c1,M9-1,scheduled,101,s1,t1,Math,,3")
      .replace("\n", ",metadata.code\n")
      .concat(",X1"),
    "enrollments.csv": csv("enrollments", "e1,active,,k1,s1,u1,student,,,"),
  });

  it("only the fields the mappings use: member fields, include and keyIdentifier, matched group fields", async () => {
    const selection: Selection = {
      users: "students",
      groups: [{ type: "classes", match: "X1", matchOn: ["metadata.code", "title"] }],
      include: { "metadata.house": ["red"] },
    };
    const { index, problems } = await loadFiles(files, [selection]);
    expect(problems).toEqual([]);
    expect(index!.classes[0]!.fields).toEqual({
      sourcedId: "k1",
      "metadata.code": "X1",
      title: "Math 9 (A)",
    });
    expect(Object.keys(index!.users[0]!.raw).sort()).toEqual(
      [
        "sourcedId",
        "status",
        "enabledUser",
        "role",
        "username",
        "email",
        "givenName",
        "familyName",
        "grades",
        "orgs",
        "metadata.house",
      ].sort(),
    );
  });

  it("everything when the mappings are not known", async () => {
    const { index } = await loadFiles(files);
    expect(index!.users[0]!.raw).toMatchObject({
      "metadata.notes": "a long note",
      phone: "556",
      middleName: "M",
    });
    expect(index!.users[0]!.raw).not.toHaveProperty("password");
  });
});
