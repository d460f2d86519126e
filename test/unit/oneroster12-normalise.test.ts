// OneRoster 1.2 user records → RosterUser (src/providers/oneroster/normalise.ts), table-driven:
// `roles[]` instead of `role`, orgs from roles / primaryOrg / orgs, `enabledUser` as a boolean or a
// string, the administrator family; plus the base-path default of config/schema.ts.
import { describe, expect, it } from "vitest";
import { oneRosterBaseUrl, providerSchema } from "../../src/config/schema.js";
import { holdsRoleAt, normaliseRole, normaliseUser } from "../../src/providers/oneroster/normalise.js";
import type { OneRosterRecord } from "../../src/providers/oneroster/paging.js";

const org = (sourcedId: string) => ({
  href: `https://h/ims/oneroster/rostering/v1p2/orgs/${sourcedId}`,
  sourcedId,
  type: "org",
});

/** A 1.2 user as the IMS 1.2 binding shapes it. */
const user12: OneRosterRecord = {
  sourcedId: "u1",
  status: "active",
  dateLastModified: "2025-08-15T12:00:00.000Z",
  userMasterIdentifier: "100200",
  username: "ana.oneil",
  userIds: [{ type: "SIS", identifier: "100200" }],
  enabledUser: true,
  givenName: " Ana ",
  familyName: "O'Neil",
  roles: [
    { roleType: "secondary", role: "teacher", org: org("sch-2") },
    { roleType: "primary", role: "teacher", org: org("sch-1"), userProfile: null, beginDate: null },
  ],
  primaryOrg: org("sch-1"),
  email: "ana.oneil@district.example",
  grades: [],
  userProfiles: [],
  agents: [],
};

describe("normaliseUser on 1.2 records", () => {
  it("maps a 1.2 teacher: role from the primary roles[] entry, orgs from roles[] then primaryOrg", () => {
    expect(normaliseUser(user12)).toEqual({
      sourcedId: "u1",
      role: "teacher",
      username: "ana.oneil",
      email: "ana.oneil@district.example",
      givenName: "Ana",
      familyName: "O'Neil",
      grades: [],
      orgs: ["sch-2", "sch-1"],
      status: "active",
      enabledUser: true,
      raw: user12,
    });
  });

  it.each([
    [
      "primary entry wins over order",
      [
        { roleType: "secondary", role: "aide" },
        { roleType: "primary", role: "student" },
      ],
      "student",
    ],
    ["roleType in any case", [{ roleType: "PRIMARY", role: "Teacher" }], "teacher"],
    [
      "no primary: the first entry",
      [
        { roleType: "secondary", role: "guardian" },
        { roleType: "secondary", role: "parent" },
      ],
      "guardian",
    ],
    ["siteAdministrator", [{ roleType: "primary", role: "siteAdministrator" }], "administrator"],
    ["districtAdministrator", [{ roleType: "primary", role: "districtAdministrator" }], "administrator"],
    ["systemAdministrator", [{ roleType: "primary", role: "systemAdministrator" }], "administrator"],
    ["other 1.2 roles kept, lower case", [{ roleType: "primary", role: "proctor" }], "proctor"],
    [
      "non-objects in roles[] ignored",
      [null, "teacher", 3, { roleType: "primary", role: "student" }],
      "student",
    ],
    ["empty roles[]: the endpoint's role", [], "student"],
    ["roles not an array: the endpoint's role", "teacher", "student"],
  ])("role: %s", (_name, roles, expected) => {
    expect(normaliseUser({ sourcedId: "u", roles }, "student").role).toBe(expected);
  });

  it("a 1.1 `role` still wins over roles[] (servers that send both)", () => {
    expect(
      normaliseUser({ sourcedId: "u", role: "teacher", roles: [{ roleType: "primary", role: "student" }] })
        .role,
    ).toBe("teacher");
    expect(normaliseUser({ sourcedId: "u" }).role).toBe("unknown");
  });

  it.each([
    [true, true],
    [false, false],
    ["true", true],
    ["false", false],
    ["FALSE", false],
    [" False ", false],
    ["0", false],
    [0, false],
    [1, true],
    [undefined, true],
    [null, true],
  ])("enabledUser %j → %s", (enabledUser, expected) => {
    expect(normaliseUser({ sourcedId: "u", enabledUser }).enabledUser).toBe(expected);
  });

  it.each([
    [
      "roles[] only, in order, each once",
      { roles: [{ org: org("a") }, { org: org("b") }, { org: org("a") }] },
      ["a", "b"],
    ],
    ["primaryOrg alone", { primaryOrg: org("p") }, ["p"]],
    [
      "primaryOrg after the roles' orgs, not repeated",
      { roles: [{ org: org("a") }], primaryOrg: org("a") },
      ["a"],
    ],
    [
      "orgs (kept by some servers) first",
      { orgs: [org("o")], roles: [{ org: org("a") }], primaryOrg: org("p") },
      ["o", "a", "p"],
    ],
    ["bare ids", { roles: [{ org: "a" }], primaryOrg: "p" }, ["a", "p"]],
    ["roles without org", { roles: [{ roleType: "primary", role: "student" }] }, []],
    ["nothing", {}, []],
  ])("orgs: %s", (_name, fields, expected) => {
    expect(normaliseUser({ sourcedId: "u", ...fields }).orgs).toEqual(expected);
  });

  it("keeps 1.2's extra fields in raw for include and keyIdentifier", () => {
    const user = normaliseUser(user12);
    expect(user.raw.userMasterIdentifier).toBe("100200");
    expect(user.raw.userIds).toEqual([{ type: "SIS", identifier: "100200" }]);
  });
});

describe("normaliseRole", () => {
  it.each([
    ["student", "student"],
    ["Teacher", "teacher"],
    ["siteAdministrator", "administrator"],
    ["administrator", "administrator"],
    ["principal", "principal"],
  ])("%s → %s", (role, expected) => {
    expect(normaliseRole(role)).toBe(expected);
  });
});

describe("holdsRoleAt (what /schools/{id}/students|teachers means)", () => {
  const teacher = normaliseUser(user12);
  it.each([
    ["teacher at the primary org", "teacher", "sch-1", true],
    ["teacher at the secondary org", "teacher", "sch-2", true],
    ["not a student there", "student", "sch-1", false],
    ["not at another org", "teacher", "sch-3", false],
  ])("1.2: %s", (_name, role, orgId, expected) => {
    expect(holdsRoleAt(teacher, role, orgId)).toBe(expected);
  });

  it("1.2: the role of that org's entry, not the primary one", () => {
    const mixed = normaliseUser({
      sourcedId: "m",
      roles: [
        { roleType: "primary", role: "teacher", org: org("a") },
        { roleType: "secondary", role: "siteAdministrator", org: org("b") },
      ],
    });
    expect(holdsRoleAt(mixed, "teacher", "b")).toBe(false);
    expect(holdsRoleAt(mixed, "administrator", "b")).toBe(true);
  });

  it("1.1 records: role and orgs", () => {
    const student = normaliseUser({ sourcedId: "s", role: "student", orgs: [org("a"), org("b")] });
    expect(holdsRoleAt(student, "student", "b")).toBe(true);
    expect(holdsRoleAt(student, "teacher", "b")).toBe(false);
  });
});

describe("OneRoster base URL", () => {
  it.each([
    ["https://h.example", "1.1", "https://h.example/ims/oneroster/v1p1/"],
    ["https://h.example/", "1.2", "https://h.example/ims/oneroster/rostering/v1p2/"],
    ["http://127.0.0.1:8299", "1.2", "http://127.0.0.1:8299/ims/oneroster/rostering/v1p2/"],
    ["https://h.example/ims/oneroster/v1p1/", "1.2", "https://h.example/ims/oneroster/v1p1/"],
    ["https://h.example/custom/oneroster", "1.2", "https://h.example/custom/oneroster"],
  ] as const)("%s (%s) → %s", (baseUrl, version, expected) => {
    expect(oneRosterBaseUrl(baseUrl, version)).toBe(expected);
  });

  it("is applied when the config is parsed, for oneroster and classlink only", () => {
    const parse = (input: Record<string, unknown>) => providerSchema.parse(input).baseUrl;
    expect(
      parse({ type: "oneroster", version: "1.2", baseUrl: "https://h.example", auth: { method: "none" } }),
    ).toBe("https://h.example/ims/oneroster/rostering/v1p2/");
    const oauth1 = { method: "oauth1", clientId: "k", clientSecret: "s" };
    expect(parse({ type: "classlink", baseUrl: "https://d-app.oneroster.com", auth: oauth1 })).toBe(
      "https://d-app.oneroster.com/ims/oneroster/v1p1/",
    );
    expect(
      parse({ type: "clever", baseUrl: "https://api.clever.com", auth: { method: "bearer", token: "t" } }),
    ).toBe("https://api.clever.com");
  });

  it("classlink: baseUrl required, oauth1 only, OneRoster 1.1 only", () => {
    const oauth1 = { method: "oauth1", clientId: "k", clientSecret: "s" };
    const issues = (input: Record<string, unknown>) =>
      providerSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues({ type: "classlink", auth: oauth1 })).toEqual(["baseUrl: is required for type classlink"]);
    expect(
      issues({
        type: "classlink",
        baseUrl: "https://d.oneroster.com",
        auth: { method: "oauth2", clientId: "k", clientSecret: "s" },
      }),
    ).toEqual(["auth.method: classlink uses oauth1"]);
    expect(
      issues({ type: "classlink", version: "1.2", baseUrl: "https://d.oneroster.com", auth: oauth1 }),
    ).toEqual([
      'version: classlink is OneRoster 1.1; for a OneRoster 1.2 server use type oneroster with version "1.2"',
    ]);
  });
});
