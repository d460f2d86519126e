// End to end: runs that must change nothing. A provider failing in the middle of paging, or a mapping
// whose class was renamed (no group matched), fails the run (exit 1) and leaves the snapshot, the
// outbox and the events file untouched; a wiped roster is held by the safety guard (exit 3) until
// `sync --force`. One embedded database for the whole sequence.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox, type SandboxFaults } from "../../src/sandbox/index.js";
import { assertBuilt } from "../helpers/cli.js";
import {
  CLIENT_SECRET,
  ELA6,
  LINCOLN,
  STEP_TIMEOUT,
  Workspace,
  bySourcedId,
  eventPairs,
  expectedClassMembers,
  parseNdjson,
  type EventUser,
  type MappingSpec,
  type RunJson,
} from "./fixture.js";

const MAPPING: MappingSpec = {
  name: "ela6-creative-cloud",
  users: "students",
  groups: [{ type: "classes", match: ELA6, matchOn: ["title"] }],
  product: ["creative-cloud", "adobe-express"],
  safety: { maxRemovals: 50, maxRemovalPercent: 20 },
};
const PAGE_SIZE = 5;

describe("runs that change nothing", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;
  let synced: EventUser[];
  let file = "";
  let failedError = "";
  /** Errors of the runs that paging faults failed, oldest first. */
  const pagingErrors: string[] = [];
  let heldError = "";
  let eventCount = 0;
  /** Runs that applied something, oldest first: the only ones allowed to have events. */
  const applied: string[] = [];
  /** Every run's id and status, oldest first. */
  const runs: [string, string][] = [];

  /** Snapshot and events file are exactly as after the last good run. (That no event entered the
   * outbox either is checked once at the end: `sync` relays every pending event to the file.) */
  async function expectNothingChanged(): Promise<void> {
    expect(await ws.eventsFile()).toBe(file);
    expect(bySourcedId(await ws.members(MAPPING.name))).toEqual(synced);
  }

  async function goodRunDone(): Promise<void> {
    synced = bySourcedId(await ws.members(MAPPING.name));
    expect(synced).toEqual(bySourcedId(expectedClassMembers(sandbox.district, ELA6, LINCOLN).values()));
    file = await ws.eventsFile();
    eventCount = parseNdjson(file).length;
  }

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, seed: 23 });
    ws = await Workspace.create("failures");
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [MAPPING], pageSize: PAGE_SIZE });
    const [run] = await ws.sync();
    expect(run).toMatchObject({ status: "succeeded", removed: 0 });
    expect(run!.added).toBeGreaterThan(20);
    applied.push(run!.runId);
    runs.push([run!.runId, "succeeded"]);
    await goodRunDone();
  }, STEP_TIMEOUT);

  afterAll(async () => {
    await sandbox?.close();
    await ws?.remove();
  });

  it("a provider failing mid-paging fails the run with the URL, changes nothing, and the next good run catches up", async () => {
    // A change that a successful run would emit, so that "nothing changed" is not vacuous.
    const change = sandbox.mutate({
      kind: "churn",
      seed: 3,
      adds: 2,
      removes: 1,
      updates: 1,
      classTitle: ELA6,
      school: LINCOLN,
    });
    // The class member lists span several pages, and every page after the first fails, persistently.
    const sizes = sandbox.district.classes
      .filter((c) => c.title === ELA6)
      .map((c) => sandbox.district.classUsers(c.sourcedId, "student").length);
    expect(Math.min(...sizes)).toBeGreaterThan(2 * PAGE_SIZE);
    sandbox.setFaults({ failPaging: { afterPages: 1, path: "^classes/[^/]+/students$" } });
    sandbox.resetStats();

    const result = await ws.cli(["sync", "--json"]);
    expect(result.code, result.stderr).toBe(1);
    const [run] = (JSON.parse(result.stdout) as { runs: (RunJson & { error: string })[] }).runs;
    expect(run).toMatchObject({
      mapping: MAPPING.name,
      status: "failed",
      members: null,
      added: 0,
      removed: 0,
      updated: 0,
    });
    // Names the page that failed, without credentials.
    expect(run!.error).toContain(`${sandbox.url}classes/`);
    expect(run!.error).toMatch(new RegExp(`/students\\?limit=${PAGE_SIZE}&offset=${PAGE_SIZE}\\b`));
    expect(run!.error).toMatch(/HTTP 500/);
    for (const secret of ["oauth_signature", "oauth_", CLIENT_SECRET, "Authorization"]) {
      expect(run!.error).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
    expect(sandbox.stats().byStatus["500"]).toBeGreaterThan(0);
    await expectNothingChanged();
    runs.push([run!.runId, "failed"]);
    failedError = run!.error;

    // The provider recovers: the change is applied and emitted once, nothing was lost.
    sandbox.setFaults({});
    const [good] = await ws.sync();
    expect(good).toMatchObject({ status: "succeeded", added: 2, removed: 1, updated: 1 });
    applied.push(good!.runId);
    runs.push([good!.runId, "succeeded"]);
    expect(eventPairs(await ws.events(["--run", good!.runId]))).toEqual(
      [
        ...change.added.map((a) => `add ${a.sourcedId}`),
        ...change.removed.map((r) => `remove ${r.sourcedId}`),
        ...change.updated.map((u) => `update ${u.sourcedId}`),
      ].sort(),
    );
    const before = eventCount;
    await goodRunDone();
    expect(eventCount).toBe(before + 4);
  });

  const STUDENTS_OF_A_CLASS = "^classes/[^/]+/students$";
  /** A total low by whole pages on one of the twin classes: the paging ends "cleanly" there. */
  const lowByWholePages = (): SandboxFaults => {
    const twin = sandbox.district.classes.find((c) => c.title === ELA6)!;
    const students = sandbox.district.classUsers(twin.sourcedId, "student").length;
    const missing = (students % PAGE_SIZE) + PAGE_SIZE;
    return { lowTotal: { missing, links: "total", path: `^classes/${twin.sourcedId}/students$` } };
  };
  it.each([
    [
      "pages that repeat students of earlier pages",
      (): SandboxFaults => ({ duplicatePages: { repeat: 2, path: STUDENTS_OF_A_CLASS } }),
      /repeated 2 record/,
    ],
    [
      "an X-Total-Count low by whole pages, with a Link that agrees,",
      lowByWholePages,
      /received \d+ records of classes\/[^ ]+\/students but X-Total-Count said/,
    ],
  ])(
    "%s fail the run and change nothing (no removes for the students paging lost)",
    async (_name, fault, why) => {
      sandbox.setFaults(fault());
      try {
        const result = await ws.cli(["sync", "--json"]);
        expect(result.code, result.stderr).toBe(1);
        const [run] = (JSON.parse(result.stdout) as { runs: (RunJson & { error: string })[] }).runs;
        expect(run).toMatchObject({ status: "failed", members: null, added: 0, removed: 0 });
        expect(run!.error).toMatch(why);
        expect(run!.error).not.toContain("oauth_");
        await expectNothingChanged();
        runs.push([run!.runId, "failed"]);
        pagingErrors.push(run!.error);
      } finally {
        sandbox.setFaults({});
      }
    },
  );

  it("a renamed class fails the run (no group matched) instead of removing everyone", async () => {
    const twins = sandbox.district.classes.filter((c) => c.title === ELA6).map((c) => c.sourcedId);
    expect(twins).toHaveLength(2);
    for (const id of twins) {
      sandbox.mutate({ kind: "set-class", sourcedId: id, fields: { title: "ELA 6 (6A ELA) 2026" } });
    }
    try {
      const [run] = await ws.sync([], 1);
      expect(run).toMatchObject({ status: "failed", members: null, added: 0, removed: 0 });
      expect(run!.error).toBe(`mapping ${MAPPING.name}: no group matched classes "${ELA6}" on title`);
      runs.push([run!.runId, "failed"]);
      await expectNothingChanged();
    } finally {
      for (const id of twins) {
        sandbox.mutate({ kind: "set-class", sourcedId: id, fields: { title: ELA6 } });
      }
    }
  });

  it("a wiped roster is held with the reason (exit 3) and applied by sync --force", async () => {
    const wipe = sandbox.mutate({ kind: "wipe-class", classTitle: ELA6, role: "student" });
    expect(wipe.removed.length).toBeGreaterThan(0);
    expect(expectedClassMembers(sandbox.district, ELA6, LINCOLN).size).toBe(0);

    const [held] = await ws.sync([], 3);
    expect(held).toMatchObject({
      mapping: MAPPING.name,
      status: "held",
      members: 0,
      added: 0,
      removed: synced.length,
      updated: 0,
    });
    expect(held!.error).toMatch(/maxRemovalPercent 20/);
    expect(held!.error).toContain("--force");
    await expectNothingChanged();
    runs.push([held!.runId, "held"]);
    heldError = held!.error!;

    const [forced] = await ws.sync(["--force"]);
    expect(forced).toMatchObject({
      status: "succeeded",
      members: 0,
      added: 0,
      removed: synced.length,
      updated: 0,
      error: null,
    });
    applied.push(forced!.runId);
    runs.push([forced!.runId, "succeeded"]);
    const events = await ws.events(["--run", forced!.runId]);
    expect(eventPairs(events)).toEqual(synced.map((m) => `remove ${m.sourcedId}`).sort());
    for (const event of events) {
      expect(event.product).toEqual(["creative-cloud", "adobe-express"]);
      expect(event.user).toEqual(synced.find((m) => m.sourcedId === event.user.sourcedId));
    }
    expect(await ws.members(MAPPING.name)).toEqual([]);
    const after = await ws.eventsFile();
    expect(after.startsWith(file)).toBe(true);
    expect(eventPairs(parseNdjson(after.slice(file.length)))).toEqual(eventPairs(events));
    eventCount += events.length;
  });

  it("the history tells each run's outcome; only the applied runs have events", async () => {
    const history = await ws.history();
    expect(history.map((r) => [r.runId, r.status])).toEqual([...runs].reverse());
    expect(history.filter((r) => r.status === "failed").map((r) => r.error)).toEqual([
      `mapping ${MAPPING.name}: no group matched classes "${ELA6}" on title`,
      ...[...pagingErrors].reverse(),
      failedError,
    ]);
    expect(history.find((r) => r.status === "held")).toMatchObject({ error: heldError, members: 0 });
    const events = await ws.events();
    expect(events).toHaveLength(eventCount);
    expect(new Set(events.map((e) => e.runId))).toEqual(new Set(applied));
  });
});
