import { describe, expect, it } from "vitest";
import { changedAttributes, diffMembers } from "../../src/sync/diff.js";
import type { Member } from "../../src/domain.js";

function member(key: string, overrides: Partial<Member> = {}): Member {
  return {
    key,
    sourcedId: key,
    role: "student",
    username: `user.${key}`,
    email: `${key}@example.org`,
    givenName: "Ada",
    familyName: "Lovelace",
    grades: ["06"],
    orgs: ["s1"],
    ...overrides,
  };
}

const map = (...members: Member[]) => new Map(members.map((m) => [m.key, m]));

describe("diffMembers", () => {
  it.each([
    { name: "empty to empty", before: [], after: [], added: [], removed: [], updated: [] },
    {
      name: "first sync adds everyone",
      before: [],
      after: ["b", "a"],
      added: ["a", "b"],
      removed: [],
      updated: [],
    },
    {
      name: "unchanged emits nothing",
      before: ["a", "b"],
      after: ["a", "b"],
      added: [],
      removed: [],
      updated: [],
    },
    { name: "a member leaves", before: ["a", "b"], after: ["a"], added: [], removed: ["b"], updated: [] },
    { name: "everyone leaves", before: ["a", "b"], after: [], added: [], removed: ["a", "b"], updated: [] },
    { name: "swap", before: ["a", "b"], after: ["b", "c"], added: ["c"], removed: ["a"], updated: [] },
  ])("$name", ({ before, after, added, removed, updated }) => {
    const d = diffMembers(map(...before.map((k) => member(k))), map(...after.map((k) => member(k))));
    expect(d.added.map((m) => m.key)).toEqual(added);
    expect(d.removed.map((m) => m.key)).toEqual(removed);
    expect(d.updated.map((u) => u.member.key)).toEqual(updated);
  });

  it("reports an update with the changed attributes and the new state", () => {
    const d = diffMembers(map(member("a")), map(member("a", { familyName: "Byron", grades: ["07"] })));
    expect(d.updated).toEqual([
      { member: member("a", { familyName: "Byron", grades: ["07"] }), changed: ["familyName", "grades"] },
    ]);
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
  });

  it.each([
    { field: "email", value: "new@example.org" },
    { field: "username", value: "other" },
    { field: "givenName", value: "Augusta" },
    { field: "familyName", value: "King" },
    { field: "role", value: "teacher" },
    { field: "grades", value: ["06", "07"] },
    { field: "orgs", value: ["s2"] },
    { field: "email", value: null },
  ])("a change of $field is an update", ({ field, value }) => {
    expect(changedAttributes(member("a"), member("a", { [field]: value }))).toEqual([field]);
  });

  it("ignores the order of grades and orgs, and untracked fields", () => {
    const before = member("a", { grades: ["06", "07"], orgs: ["s1", "d1"] });
    const after = member("a", { grades: ["07", "06"], orgs: ["d1", "s1"], sourcedId: "other-id" });
    expect(changedAttributes(before, after)).toEqual([]);
  });

  it("handles a large roster (20k members)", () => {
    // Correctness on a large input; timing lives in bench/.
    const before = new Map<string, Member>();
    const after = new Map<string, Member>();
    for (let i = 0; i < 20_000; i += 1) {
      before.set(`k${i}`, member(`k${i}`));
      if (i % 10 !== 0) {
        after.set(`k${i}`, member(`k${i}`, i % 7 === 0 ? { familyName: "X" } : {}));
      }
    }
    const d = diffMembers(before, after);
    expect(d.removed).toHaveLength(2000);
    expect(d.added).toHaveLength(0);
    expect(d.updated.length).toBe([...after.keys()].filter((k) => Number(k.slice(1)) % 7 === 0).length);
  });
});
