import { describe, expect, it } from "vitest";
import type { RosterGroup, RosterUser } from "../../src/providers/types.js";
import {
  groupMatches,
  includeKeysAbsent,
  isActive,
  passesInclude,
  toMember,
  userKey,
} from "../../src/sync/match.js";

const group = (fields: Record<string, unknown>, sourcedId = "31763"): RosterGroup => ({
  type: "classes",
  sourcedId,
  fields: { sourcedId, ...fields },
});

function user(overrides: Partial<RosterUser> = {}): RosterUser {
  return {
    sourcedId: "18125",
    role: "student",
    username: "billy.flores",
    email: "billy.flores@classlink.k12.nj.us",
    givenName: "BILLY",
    familyName: "FLORES",
    grades: ["11"],
    orgs: ["2"],
    status: "active",
    enabledUser: true,
    raw: {
      sourcedId: "18125",
      identifier: "ID-18125",
      location: "302",
      grades: ["11"],
      orgs: [{ sourcedId: "2" }],
    },
    ...overrides,
  };
}

describe("groupMatches", () => {
  it.each([
    { fields: { title: "ELA 6 (6A ELA)" }, match: "ELA 6 (6A ELA)", on: ["title"], expected: true },
    { fields: { title: "  ela 6 (6a ela) " }, match: "ELA 6 (6A ELA)", on: ["title"], expected: true },
    { fields: { title: "ELA 6 (6A ELA)" }, match: " ela 6 (6a ela)", on: ["title"], expected: true },
    { fields: { title: "ELA 6" }, match: "ELA 6 (6A ELA)", on: ["title"], expected: false },
    { fields: { title: "ELA 6 (6A ELA)" }, match: "ELA 6 (6A ELA)", on: ["name"], expected: false },
    { fields: { title: "Math" }, match: "31763", on: ["sourcedId", "title"], expected: true },
    { fields: { location: "302" }, match: "302", on: ["location"], expected: true },
    { fields: { location: 302 }, match: "302", on: ["location"], expected: false },
    { fields: { title: null }, match: "null", on: ["title"], expected: false },
    { fields: {}, match: "x", on: ["title", "name"], expected: false },
  ])("$fields vs $match on $on → $expected", ({ fields, match, on, expected }) => {
    expect(groupMatches(group(fields), match, on)).toBe(expected);
  });
});

describe("isActive", () => {
  it.each([
    { status: "active", enabledUser: true, expected: true },
    { status: undefined, enabledUser: true, expected: true },
    { status: "tobedeleted", enabledUser: true, expected: false },
    { status: "active", enabledUser: false, expected: false },
  ])("status $status enabled $enabledUser → $expected", ({ status, enabledUser, expected }) => {
    expect(isActive(user({ status, enabledUser }))).toBe(expected);
  });
});

describe("passesInclude", () => {
  it.each<{ include: Record<string, string[]> | undefined; expected: boolean }>([
    { include: undefined, expected: true },
    { include: { grades: ["11"] }, expected: true },
    { include: { grades: ["06", "11"] }, expected: true },
    { include: { grades: ["06"] }, expected: false },
    { include: { orgs: ["2"] }, expected: true },
    { include: { role: ["STUDENT"] }, expected: true },
    { include: { location: ["302"] }, expected: true },
    { include: { grades: ["11"], location: ["303"] }, expected: false },
    { include: { missingField: ["x"] }, expected: false },
  ])("$include → $expected", ({ include, expected }) => {
    expect(passesInclude(user(), include)).toBe(expected);
  });
});

describe("userKey and toMember", () => {
  it("reads the keyIdentifier from known or raw fields", () => {
    expect(userKey(user(), "sourcedId")).toBe("18125");
    expect(userKey(user(), "username")).toBe("billy.flores");
    expect(userKey(user(), "identifier")).toBe("ID-18125");
    expect(userKey(user({ email: undefined }), "email")).toBeUndefined();
    expect(userKey(user({ username: " " }), "username")).toBeUndefined();
  });

  it("keeps the tracked attributes", () => {
    expect(toMember(user({ email: undefined }), "18125")).toEqual({
      key: "18125",
      sourcedId: "18125",
      role: "student",
      username: "billy.flores",
      email: null,
      givenName: "BILLY",
      familyName: "FLORES",
      grades: ["11"],
      orgs: ["2"],
    });
  });
});

describe("includeKeysAbsent", () => {
  it.each([
    ["no include", undefined, [user()], []],
    ["every key present on some user", { grades: ["09"], location: ["1"] }, [user()], []],
    ["a misspelt key", { grade: ["11"] }, [user()], ["grade"]],
    ["a field no user has a value for", { grades: ["07"] }, [user({ grades: [] })], ["grades"]],
    [
      "a key present on one user of several",
      { location: ["1"] },
      [user({ raw: {} }), user({ raw: { location: "" } }), user()],
      [],
    ],
    ["blank values only", { location: ["1"] }, [user({ raw: { location: " " } })], ["location"]],
    ["no users", { grades: ["07"] }, [], ["grades"]],
  ] as const)("%s", (_name, include, users, expected) => {
    expect(
      includeKeysAbsent(users as readonly RosterUser[], include as Record<string, string[]> | undefined),
    ).toEqual(expected);
  });
});
