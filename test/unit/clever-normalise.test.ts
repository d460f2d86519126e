// Clever API v3 records → RosterUser / RosterGroup (src/providers/clever/normalise.ts), table-driven.
import { describe, expect, it } from "vitest";
import { normaliseGrade, normaliseGroup, normaliseUser } from "../../src/providers/clever/normalise.js";
import type { CleverRecord } from "../../src/providers/clever/paging.js";

const student: CleverRecord = {
  id: "5a1b",
  district: "d1",
  name: { first: " Ana ", last: "O'Neil", middle: "M" },
  email: "ana.oneil@district.example",
  roles: {
    student: {
      grade: "6",
      school: "s1",
      schools: ["s1", "s2"],
      sis_id: "1001",
      student_number: "S-1001",
      credentials: { district_username: "aoneil" },
    },
  },
};

describe("normaliseUser", () => {
  it("maps a student record field by field", () => {
    const user = normaliseUser(student, "student");
    expect(user).toEqual({
      sourcedId: "5a1b",
      role: "student",
      username: "aoneil",
      email: "ana.oneil@district.example",
      givenName: "Ana",
      familyName: "O'Neil",
      grades: ["06"],
      orgs: ["s1", "s2"],
      status: "active",
      enabledUser: true,
      raw: expect.objectContaining({ id: "5a1b", sis_id: "1001", student_number: "S-1001", grade: "6" }),
    });
    // The record's own fields win over copied role fields; objects are not copied up.
    expect(user.raw).not.toHaveProperty("credentials");
    expect(user.raw.name).toEqual(student.name);
  });

  const cases: { what: string; record: CleverRecord; role?: string; expected: Record<string, unknown> }[] = [
    {
      what: "username falls back to the email's local part",
      record: { id: "t1", email: "j.smith@x.org", roles: { teacher: { school: "s1" } } },
      role: "teacher",
      expected: { username: "j.smith", role: "teacher", orgs: ["s1"], grades: [] },
    },
    {
      what: "no credentials and no email: no username",
      record: { id: "t2", name: { first: "J" }, roles: { teacher: {} }, district: "d1" },
      expected: { username: undefined, email: undefined, familyName: undefined, orgs: ["d1"] },
    },
    {
      what: "`school` missing from `schools` is added after them",
      record: { id: "t3", roles: { teacher: { school: "s9", schools: ["s1"] } } },
      expected: { orgs: ["s1", "s9"] },
    },
    {
      what: "without a requested role, the first known role in order student, teacher, staff",
      record: { id: "m1", roles: { staff: { schools: ["s2"] }, teacher: { schools: ["s1"] } } },
      expected: { role: "teacher", orgs: ["s1"] },
    },
    {
      what: "a multi-role user listed under ?role=staff is an administrator",
      record: { id: "m1", roles: { staff: { schools: ["s2"] }, teacher: { schools: ["s1"] } } },
      role: "staff",
      expected: { role: "administrator", orgs: ["s2"] },
    },
    {
      what: "district admins are administrators of the district",
      record: { id: "da", district: "d1", roles: { district_admin: { title: "IT" } } },
      expected: { role: "administrator", orgs: ["d1"] },
    },
    {
      what: "a contact's relationship names the role where OneRoster has one",
      record: { id: "c1", roles: { contact: { relationship: "Parent", student_relationships: [] } } },
      expected: { role: "parent" },
    },
    {
      what: "other contacts are guardians",
      record: { id: "c2", roles: { contact: { relationship: "Aunt" } } },
      expected: { role: "guardian" },
    },
    {
      what: "no roles at all, and none asked: unknown",
      record: { id: "x" },
      expected: { role: "unknown", orgs: [], grades: [] },
    },
    {
      what: "an endpoint role the record does not carry still names the role",
      record: { id: "y", roles: {} },
      role: "student",
      expected: { role: "student", grades: [] },
    },
  ];
  it.each(cases)("$what", ({ record, role, expected }) => {
    expect(normaliseUser(record, role)).toMatchObject(expected);
  });
});

describe("normaliseGrade", () => {
  it.each([
    ["1", "01"],
    ["6", "06"],
    ["06", "06"],
    ["12", "12"],
    ["13", "13"],
    [7, "07"],
    ["Kindergarten", "KG"],
    ["K", "KG"],
    ["KG", "KG"],
    ["PreKindergarten", "PK"],
    ["Pre-Kindergarten", "PK"],
    ["TransitionalKindergarten", "TK"],
    ["InfantToddler", "IT"],
    ["Preschool", "PR"],
    ["PostGraduate", "PS"],
    ["Ungraded", "UG"],
    ["Other", "Other"],
    ["0", "0"],
    ["14", "14"],
    ["Grade Six", "Grade Six"],
    [" 9 ", "09"],
    ["", undefined],
    [null, undefined],
    [undefined, undefined],
  ])("%j → %j", (input, expected) => {
    expect(normaliseGrade(input)).toBe(expected);
  });
});

describe("normaliseGroup", () => {
  it("sections and courses get sourcedId and a title alias of name; schools only sourcedId", () => {
    const section = normaliseGroup("classes", { id: "sec1", name: "ELA 6 (6A ELA)", course: "c1" });
    expect(section).toEqual({
      type: "classes",
      sourcedId: "sec1",
      fields: {
        id: "sec1",
        sourcedId: "sec1",
        name: "ELA 6 (6A ELA)",
        title: "ELA 6 (6A ELA)",
        course: "c1",
      },
    });
    expect(normaliseGroup("courses", { id: "c1", name: "ELA 6" }).fields.title).toBe("ELA 6");
    expect(normaliseGroup("schools", { id: "s1", name: "Lincoln" }).fields).toEqual({
      id: "s1",
      sourcedId: "s1",
      name: "Lincoln",
    });
  });
});
