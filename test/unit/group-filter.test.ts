import { describe, expect, it } from "vitest";
import { groupFilter } from "../../src/providers/oneroster/groups.js";
import { plannedOffsets } from "../../src/providers/oneroster/paging.js";

describe("groupFilter", () => {
  it.each([
    { type: "classes", match: "Advisory", matchOn: ["title"], expected: "title~'Advisory'" },
    { type: "classes", match: "  Advisory ", matchOn: ["title"], expected: "title~'Advisory'" },
    {
      type: "classes",
      match: "cls-1",
      matchOn: ["sourcedId", "name", "title"],
      expected: "sourcedId~'cls-1' OR title~'cls-1'",
    },
    { type: "courses", match: "Math 7", matchOn: ["title"], expected: "title~'Math 7'" },
    { type: "courses", match: "MA7", matchOn: ["courseCode"], expected: "courseCode~'MA7'" },
    { type: "schools", match: "Lincoln Middle School", matchOn: ["name"], expected: undefined },
    { type: "classes", match: "O'Brien's class", matchOn: ["title"], expected: undefined },
    { type: "classes", match: "  ", matchOn: ["title"], expected: undefined },
    { type: "classes", match: "301", matchOn: ["location"], expected: undefined },
    { type: "classes", match: "x", matchOn: ["name"], expected: undefined },
    { type: "classes", match: "x", matchOn: ["sourcedId", "title", "classCode"], expected: undefined },
  ] as const)("$type $matchOn '$match' → $expected", ({ type, match, matchOn, expected }) => {
    expect(groupFilter({ type, match, matchOn })).toBe(expected);
  });
});

describe("plannedOffsets", () => {
  const next = (offset: number) => `http://h/classes?limit=1000&offset=${offset}`;
  it.each([
    {
      name: "offsets after a full first page, and the one that confirms a total ending on a full page",
      length: 1000,
      total: 3000,
      link: undefined,
      expected: [1000, 2000, 3000],
    },
    { name: "a last partial page", length: 1000, total: 2500, link: undefined, expected: [1000, 2000] },
    { name: "Link by offset", length: 500, total: 1200, link: next(500), expected: [500, 1000] },
    { name: "Link by cursor", length: 500, total: 1200, link: "http://h/classes?cursor=abc", expected: [] },
    { name: "Link to another offset", length: 500, total: 1200, link: next(1000), expected: [] },
    { name: "no X-Total-Count", length: 1000, total: undefined, link: undefined, expected: [] },
    { name: "everything on the first page", length: 1000, total: 1000, link: undefined, expected: [] },
    { name: "an empty first page", length: 0, total: 10, link: undefined, expected: [] },
  ])("$name", ({ length, total, link, expected }) => {
    expect(plannedOffsets(length, total, link, 1_000_000)).toEqual(expected);
  });

  it("plans nothing beyond maxRecords (the walk stops with an error there)", () => {
    expect(plannedOffsets(10, 100, undefined, 50)).toEqual([]);
  });
});
