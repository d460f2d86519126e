// Roster changes for demos and tests: a change script applied to the live district, returning exactly
// which users were added, removed or updated in which classes, so a test can assert the events of the
// next sync. Deterministic: the same district state, change and seed give the same result.
import { createRandom } from "./random.js";
import { FAMILY_NAMES, GIVEN_NAMES, asciiSlug } from "./names.js";
import { EMAIL_DOMAIN } from "./district.js";
import type { ClassRecord, EnrollmentRecord, UserRecord } from "./records.js";
import type { District } from "./roster.js";

export type SandboxChange =
  | {
      /** Adds new students, removes and updates existing active students of the target classes. */
      kind: "churn";
      /** Seed of the choices. Default 1. */
      seed?: number;
      adds?: number;
      removes?: number;
      updates?: number;
      /** Target: the class with this sourcedId; else the classes with this title (trimmed, any case);
       * else every class. `school` (sourcedId or name) narrows the title or every-class target. */
      classSourcedId?: string;
      classTitle?: string;
      school?: string;
      /** How a removal happens: the user's status becomes "tobedeleted" (removed everywhere; the
       * default), or "unenroll" (their enrollments in the target classes are deleted; they stay in
       * their school), or "mixed" (alternating, tobedeleted first). */
      removeMode?: "tobedeleted" | "unenroll" | "mixed";
    }
  | { kind: "wipe-class"; classSourcedId?: string; classTitle?: string; role?: "student" | "teacher" }
  | { kind: "wipe-all-students" }
  | { kind: "set-user"; sourcedId: string; fields: Record<string, unknown> }
  | { kind: "set-class"; sourcedId: string; fields: Record<string, unknown> }
  | { kind: "enroll"; userSourcedId: string; classSourcedId: string; role?: "student" | "teacher" }
  | { kind: "unenroll"; userSourcedId: string; classSourcedId?: string };

export interface MutationResult {
  kind: SandboxChange["kind"];
  /** New users (churn; with the full record) or existing users newly enrolled (enroll). */
  added: { sourcedId: string; classes: string[]; user?: UserRecord }[];
  /** `how`: "tobedeleted" (status set), "unenrolled" (enrollments in `classes` deleted), "deleted" (user gone). */
  removed: { sourcedId: string; classes: string[]; how: "tobedeleted" | "unenrolled" | "deleted" }[];
  /** Users whose fields changed; `classes` are all classes the user is enrolled in. */
  updated: {
    sourcedId: string;
    classes: string[];
    changes: Record<string, { from: unknown; to: unknown }>;
  }[];
  /** Classes whose records or enrollments changed. */
  classes: string[];
}

export class MutationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MutationError";
  }
}

const isMember = (u: UserRecord | undefined): u is UserRecord =>
  u !== undefined && u.status === "active" && u.enabledUser === "true";

function emptyResult(kind: SandboxChange["kind"]): MutationResult {
  return { kind, added: [], removed: [], updated: [], classes: [] };
}

function targetClasses(
  district: District,
  change: { classSourcedId?: string; classTitle?: string; school?: string },
): ClassRecord[] {
  if (change.classSourcedId !== undefined) {
    const cls = district.class(change.classSourcedId);
    if (!cls) {
      throw new MutationError(`no class ${change.classSourcedId}`);
    }
    return [cls];
  }
  let classes = district.classes;
  if (change.school !== undefined) {
    const wanted = change.school.trim().toLowerCase();
    const school = district
      .schools()
      .find((s) => s.sourcedId.toLowerCase() === wanted || s.name.trim().toLowerCase() === wanted);
    if (!school) {
      throw new MutationError(`no school "${change.school}"`);
    }
    classes = district.schoolClasses(school.sourcedId);
  }
  if (change.classTitle !== undefined) {
    const wanted = change.classTitle.trim().toLowerCase();
    classes = classes.filter((c) => c.title.trim().toLowerCase() === wanted);
  }
  if (classes.length === 0) {
    throw new MutationError("the change selects no class");
  }
  return classes;
}

function changeUser(
  district: District,
  user: UserRecord,
  fields: Record<string, unknown>,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, to] of Object.entries(fields)) {
    changes[key] = { from: structuredClone(user[key]), to };
  }
  district.updateUser(user.sourcedId, { ...fields, dateLastModified: new Date().toISOString() });
  return changes;
}

const classIds = (district: District, userId: string): string[] =>
  district.userClasses(userId).map((c) => c.sourcedId);

function churn(district: District, change: Extract<SandboxChange, { kind: "churn" }>): MutationResult {
  const result = emptyResult("churn");
  const r = createRandom(change.seed ?? 1);
  const targets = targetClasses(district, change);
  const targetIds = new Set(targets.map((c) => c.sourcedId));
  const touched = new Set<string>();

  // Candidates: active, enabled students of the target classes, in enrollment order.
  const seen = new Set<string>();
  const candidates: UserRecord[] = [];
  for (const cls of targets) {
    for (const user of district.classUsers(cls.sourcedId, "student")) {
      if (!seen.has(user.sourcedId) && isMember(user)) {
        seen.add(user.sourcedId);
        candidates.push(user);
      }
    }
  }
  const chosen = r.sample(candidates, (change.removes ?? 0) + (change.updates ?? 0));
  const removes = chosen.slice(0, change.removes ?? 0);
  const updates = chosen.slice(change.removes ?? 0);

  const mode = change.removeMode ?? "tobedeleted";
  removes.forEach((user, i) => {
    const inTargets = district
      .userEnrollments(user.sourcedId)
      .filter((e) => targetIds.has(e.class.sourcedId));
    const classes = [...new Set(inTargets.map((e) => e.class.sourcedId))];
    classes.forEach((c) => touched.add(c));
    if (mode === "tobedeleted" || (mode === "mixed" && i % 2 === 0)) {
      changeUser(district, user, { status: "tobedeleted" });
      result.removed.push({ sourcedId: user.sourcedId, classes, how: "tobedeleted" });
    } else {
      district.removeEnrollments(new Set(inTargets));
      result.removed.push({ sourcedId: user.sourcedId, classes, how: "unenrolled" });
    }
  });

  updates.forEach((user, i) => {
    const fields: Record<string, unknown> =
      i % 2 === 0
        ? { familyName: r.pick(FAMILY_NAMES.filter((n) => n !== user.familyName)) }
        : { email: `${user.username}.alt@${EMAIL_DOMAIN}` };
    const changes = changeUser(district, user, fields);
    result.updated.push({ sourcedId: user.sourcedId, classes: classIds(district, user.sourcedId), changes });
  });

  const usernames = new Set(district.users.map((u) => u.username));
  for (let i = 0; i < (change.adds ?? 0); i++) {
    const cls = r.pick(targets);
    const givenName = r.pick(GIVEN_NAMES);
    const familyName = r.pick(FAMILY_NAMES);
    const base = `${asciiSlug(givenName) || "user"}.${asciiSlug(familyName) || "user"}`;
    let username = base;
    for (let n = 2; usernames.has(username); n++) {
      username = `${base}${n}`;
    }
    usernames.add(username);
    const sourcedId = district.nextId(`stu-${cls.school.sourcedId.replace(/^sch-/, "")}`);
    const user: UserRecord = {
      sourcedId,
      status: "active",
      dateLastModified: new Date().toISOString(),
      username,
      userIds: [{ type: "LDAP", identifier: username }],
      enabledUser: "true",
      givenName,
      familyName,
      middleName: "",
      role: "student",
      identifier: sourcedId,
      email: `${username}@${EMAIL_DOMAIN}`,
      sms: "",
      phone: "",
      agents: [],
      orgs: [cls.school],
      grades: cls.grades.slice(0, 1),
    };
    district.addUser(user);
    enroll(district, user.sourcedId, cls, "student");
    touched.add(cls.sourcedId);
    result.added.push({ sourcedId, classes: [cls.sourcedId], user: structuredClone(user) });
  }
  result.classes = [...touched];
  return result;
}

function enroll(district: District, userId: string, cls: ClassRecord, role: "student" | "teacher"): void {
  district.addEnrollment({
    sourcedId: district.nextId("enr"),
    status: "active",
    dateLastModified: new Date().toISOString(),
    user: district.ref("user", userId),
    class: district.ref("class", cls.sourcedId),
    school: cls.school,
    role,
    primary: "true",
    beginDate: "",
    endDate: "",
  });
}

/** Removes enrollments and reports, per user, the classes they left. */
function unenroll(district: District, enrollments: EnrollmentRecord[], result: MutationResult): void {
  const byUser = new Map<string, Set<string>>();
  for (const e of enrollments) {
    const set = byUser.get(e.user.sourcedId) ?? new Set<string>();
    set.add(e.class.sourcedId);
    byUser.set(e.user.sourcedId, set);
  }
  district.removeEnrollments(new Set(enrollments));
  for (const [sourcedId, classes] of byUser) {
    result.removed.push({ sourcedId, classes: [...classes], how: "unenrolled" });
  }
  result.classes = [...new Set(enrollments.map((e) => e.class.sourcedId))];
}

/** Applies one change to the district. Throws MutationError when it names nothing that exists. */
export function applyChange(district: District, change: SandboxChange): MutationResult {
  switch (change.kind) {
    case "churn":
      return churn(district, change);
    case "wipe-class": {
      const result = emptyResult(change.kind);
      const classes = targetClasses(district, change);
      const enrollments = classes.flatMap((c) =>
        district
          .classEnrollments(c.sourcedId)
          .filter((e) => change.role === undefined || e.role === change.role),
      );
      unenroll(district, enrollments, result);
      result.classes = classes.map((c) => c.sourcedId);
      return result;
    }
    case "wipe-all-students": {
      const result = emptyResult(change.kind);
      const students = district.usersWithRole("student");
      const touched = new Set<string>();
      for (const s of students) {
        const classes = classIds(district, s.sourcedId);
        classes.forEach((c) => touched.add(c));
        result.removed.push({ sourcedId: s.sourcedId, classes, how: "deleted" });
      }
      district.removeUsers(new Set(students.map((s) => s.sourcedId)));
      result.classes = [...touched];
      return result;
    }
    case "set-user": {
      const result = emptyResult(change.kind);
      const user = district.user(change.sourcedId);
      if (!user) {
        throw new MutationError(`no user ${change.sourcedId}`);
      }
      const changes = changeUser(district, user, change.fields);
      result.updated.push({
        sourcedId: user.sourcedId,
        classes: classIds(district, user.sourcedId),
        changes,
      });
      return result;
    }
    case "set-class": {
      const result = emptyResult(change.kind);
      if (!district.class(change.sourcedId)) {
        throw new MutationError(`no class ${change.sourcedId}`);
      }
      district.updateClass(change.sourcedId, {
        ...change.fields,
        dateLastModified: new Date().toISOString(),
      });
      result.classes = [change.sourcedId];
      return result;
    }
    case "enroll": {
      const result = emptyResult(change.kind);
      const cls = district.class(change.classSourcedId);
      if (!district.user(change.userSourcedId) || !cls) {
        throw new MutationError(`no user ${change.userSourcedId} or no class ${change.classSourcedId}`);
      }
      enroll(district, change.userSourcedId, cls, change.role ?? "student");
      result.added.push({ sourcedId: change.userSourcedId, classes: [cls.sourcedId] });
      result.classes = [cls.sourcedId];
      return result;
    }
    case "unenroll": {
      const result = emptyResult(change.kind);
      if (!district.user(change.userSourcedId)) {
        throw new MutationError(`no user ${change.userSourcedId}`);
      }
      const enrollments = district
        .userEnrollments(change.userSourcedId)
        .filter((e) => change.classSourcedId === undefined || e.class.sourcedId === change.classSourcedId);
      unenroll(district, enrollments, result);
      return result;
    }
    default:
      throw new MutationError(`unknown change kind "${(change as { kind?: unknown }).kind}"`);
  }
}
