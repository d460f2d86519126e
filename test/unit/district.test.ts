// The seeded district generator: same seed → same district; sizes follow the options; every ref
// points at a record; the dirt the sync must cope with is there.
import { describe, expect, it } from "vitest";
import { applyChange, generateDistrict } from "../../src/sandbox/index.js";
import type { District } from "../../src/sandbox/index.js";
import { createRandom } from "../../src/sandbox/random.js";

const snapshot = (d: District): string =>
  JSON.stringify([d.orgs, d.academicSessions, d.courses, d.classes, d.users, d.enrollments]);

describe("createRandom", () => {
  it("repeats for a seed and differs between seeds", () => {
    const draw = (seed: number): number[] => {
      const r = createRandom(seed);
      return Array.from({ length: 5 }, () => r.int(0, 1_000_000));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it("keeps int() within bounds and shuffle() a permutation", () => {
    const r = createRandom(1);
    for (let i = 0; i < 1000; i++) {
      const n = r.int(3, 5);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(5);
    }
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(r.shuffle(items).sort((a, b) => a - b)).toEqual(items);
  });
});

describe("generateDistrict", () => {
  it("is deterministic for a seed", () => {
    const a = generateDistrict({ seed: 11, schools: 2, studentsPerSchool: 60 });
    const b = generateDistrict({ seed: 11, schools: 2, studentsPerSchool: 60 });
    const c = generateDistrict({ seed: 12, schools: 2, studentsPerSchool: 60 });
    expect(snapshot(a)).toBe(snapshot(b));
    expect(snapshot(a)).not.toBe(snapshot(c));
  });

  it("sizes the district from the options", () => {
    const d = generateDistrict({
      seed: 1,
      schools: 4,
      studentsPerSchool: 50,
      teachersPerSchool: 5,
      administratorsPerSchool: 2,
    });
    const counts = d.counts();
    expect(counts.schools).toBe(4);
    expect(counts.orgs).toBe(5);
    expect(counts.students).toBe(200);
    expect(counts.teachers).toBe(20);
    expect(counts.administrators).toBe(8);
    expect(counts.users).toBe(228);
    // About teachers × classesPerTeacher sections per school (rounding, and ELA's two sections).
    expect(counts.classes).toBeGreaterThan(4 * 5 * 6 * 0.8);
    expect(counts.classes).toBeLessThan(4 * 5 * 6 * 1.6);
    for (const school of d.schools()) {
      expect(d.schoolUsers(school.sourcedId, "student")).toHaveLength(50);
    }
  });

  it("keeps every reference pointing at a record", () => {
    const d = generateDistrict({ seed: 5, schools: 3, studentsPerSchool: 80 });
    const district = d.orgs.find((o) => o.type === "district")!;
    for (const school of d.schools()) {
      expect(school.parent?.sourcedId).toBe(district.sourcedId);
      expect(district.children.map((c) => c.sourcedId)).toContain(school.sourcedId);
    }
    for (const course of d.courses) {
      expect(d.school(course.org.sourcedId)).toBeDefined();
      expect(d.academicSession(course.schoolYear.sourcedId)).toBeDefined();
    }
    for (const cls of d.classes) {
      const course = d.course(cls.course.sourcedId);
      expect(course).toBeDefined();
      expect(course!.org.sourcedId).toBe(cls.school.sourcedId);
      expect(d.school(cls.school.sourcedId)).toBeDefined();
      for (const term of cls.terms) {
        expect(d.academicSession(term.sourcedId)).toBeDefined();
      }
      expect(d.classUsers(cls.sourcedId, "teacher").length).toBeGreaterThanOrEqual(1);
    }
    for (const user of d.users) {
      expect(user.orgs.length).toBeGreaterThan(0);
      for (const org of user.orgs) {
        expect(d.org(org.sourcedId)).toBeDefined();
        expect(org.type).toBe("org");
        expect(org.href).toContain(org.sourcedId);
      }
      expect(user.email).toMatch(/^[a-z0-9.]+@sandbox\.k12\.example$/);
      expect(user.enabledUser === "true" || user.enabledUser === "false").toBe(true);
    }
    for (const e of d.enrollments) {
      const user = d.user(e.user.sourcedId);
      const cls = d.class(e.class.sourcedId);
      expect(user).toBeDefined();
      expect(cls).toBeDefined();
      expect(e.school.sourcedId).toBe(cls!.school.sourcedId);
      expect(e.role).toBe(user!.role);
      expect(d.enrollment(e.sourcedId)).toBe(e);
    }
    const ids = [...d.orgs, ...d.courses, ...d.classes, ...d.users, ...d.enrollments].map((r) => r.sourcedId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(d.users.map((u) => u.username)).size).toBe(d.users.length);
  });

  it("has shared titles, multi-section students, dirt and accents", () => {
    const d = generateDistrict({ seed: 2, schools: 4, studentsPerSchool: 120 });
    const byTitle = new Map<string, string[]>();
    for (const cls of d.classes) {
      byTitle.set(cls.title, [...(byTitle.get(cls.title) ?? []), cls.sourcedId]);
    }
    // Two sections per middle school, and two middle schools (school 1 and 4).
    const ela6 = byTitle.get("ELA 6 (6A ELA)") ?? [];
    expect(ela6).toHaveLength(4);
    expect(new Set(ela6.map((id) => d.class(id)!.school.sourcedId)).size).toBe(2);

    const inBoth = d
      .classUsers(ela6[0]!, "student")
      .filter((u) => d.classUsers(ela6[1]!, "student").includes(u));
    expect(inBoth.length).toBeGreaterThanOrEqual(1);

    const students = d.usersWithRole("student");
    expect(students.filter((u) => u.status === "tobedeleted").length).toBeGreaterThanOrEqual(4);
    expect(students.filter((u) => u.enabledUser === "false").length).toBeGreaterThanOrEqual(4);
    expect(students.filter((u) => u.status === "tobedeleted" && u.enabledUser === "false")).toHaveLength(0);
    expect(d.users.some((u) => /[^\x20-\x7e]/.test(`${u.givenName}${u.familyName}`))).toBe(true);
    expect(students.every((u) => u.grades.length === 1)).toBe(true);
  });

  it("scales: 2 schools of 1,500 students in well under the budget of the 60k district", () => {
    const d = generateDistrict({ seed: 9, schools: 2, studentsPerSchool: 1500 });
    expect(d.counts().students).toBe(3000);
    expect(d.counts().teachers).toBe(120);
  });
});

describe("applyChange", () => {
  it("churns exactly the reported users, deterministically", () => {
    const run = (): [District, ReturnType<typeof applyChange>] => {
      const d = generateDistrict({ seed: 3, schools: 1, studentsPerSchool: 90 });
      const result = applyChange(d, {
        kind: "churn",
        seed: 7,
        adds: 3,
        removes: 2,
        updates: 2,
        classTitle: "ELA 6 (6A ELA)",
        removeMode: "mixed",
      });
      return [d, result];
    };
    const [d, result] = run();
    const [, again] = run();
    const strip = (r: typeof result): unknown =>
      JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === "dateLastModified" ? undefined : v)));
    expect(strip(result)).toEqual(strip(again));

    expect(result.added).toHaveLength(3);
    expect(result.removed.map((r) => r.how)).toEqual(["tobedeleted", "unenrolled"]);
    expect(result.updated).toHaveLength(2);
    const ela6 = d.classes.filter((c) => c.title === "ELA 6 (6A ELA)").map((c) => c.sourcedId);
    const members = new Set(ela6.flatMap((id) => d.classUsers(id, "student").map((u) => u.sourcedId)));
    for (const a of result.added) {
      expect(members.has(a.sourcedId)).toBe(true);
      expect(d.user(a.sourcedId)?.grades).toEqual(["06"]);
    }
    expect(d.user(result.removed[0]!.sourcedId)?.status).toBe("tobedeleted");
    expect(members.has(result.removed[1]!.sourcedId)).toBe(false);
    for (const u of result.updated) {
      const [field, change] = Object.entries(u.changes)[0]!;
      expect(d.user(u.sourcedId)?.[field]).toBe(change.to);
      expect(change.to).not.toBe(change.from);
    }
  });

  it("wipes a class, all students, and sets fields", () => {
    const d = generateDistrict({ seed: 3, schools: 2, studentsPerSchool: 40 });
    const cls = d.classes[0]!;
    const before = d.classUsers(cls.sourcedId, "student").map((u) => u.sourcedId);
    const wiped = applyChange(d, { kind: "wipe-class", classSourcedId: cls.sourcedId, role: "student" });
    expect(wiped.removed.map((r) => r.sourcedId).sort()).toEqual([...before].sort());
    expect(d.classUsers(cls.sourcedId, "student")).toHaveLength(0);
    expect(d.classUsers(cls.sourcedId, "teacher").length).toBeGreaterThan(0);

    const user = d.usersWithRole("teacher")[0]!;
    applyChange(d, { kind: "set-user", sourcedId: user.sourcedId, fields: { givenName: "Renamed" } });
    expect(d.user(user.sourcedId)?.givenName).toBe("Renamed");

    const all = applyChange(d, { kind: "wipe-all-students" });
    expect(all.removed).toHaveLength(80);
    expect(d.usersWithRole("student")).toHaveLength(0);
    expect(d.enrollments.every((e) => e.role === "teacher")).toBe(true);
    expect(() => applyChange(d, { kind: "set-user", sourcedId: "nobody", fields: {} })).toThrow(/no user/);
  });
});
