// End to end, as an admin would use it: the BUILT `roster-sync` against the sandbox OneRoster server,
// one embedded database for the whole sequence (first sync → unchanged sync → dry run → roster change).
// Expected members and events are computed from the sandbox's district, never from the code under test.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt } from "../helpers/cli.js";
import {
  CLIENT_SECRET,
  ELA6,
  ELA6_MAPPING,
  EVENT_KEYS,
  HISTORY_KEYS,
  LINCOLN,
  RUN_KEYS,
  USER_KEYS,
  STEP_TIMEOUT,
  Workspace,
  bySourcedId,
  eventPairs,
  expectedClassMembers,
  expectedCourseMembers,
  parseNdjson,
  type EventJson,
  type EventUser,
  type MappingSpec,
  type RunJson,
} from "./fixture.js";

// Through courses, with an attribute filter that leaves out every Math 8 student.
const MATH: MappingSpec = {
  name: "math-7-tutoring",
  users: "students",
  groups: [
    { type: "courses", match: "Math 7", matchOn: ["title"] },
    { type: "courses", match: "MATH 8" },
  ],
  include: { grades: ["07"] },
  product: ["math-tutoring", "calculator"],
};
const SINK = "file:events.ndjson";
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("sync of a class and a course mapping, run after run", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;
  // State handed from one step to the next: the steps form one scenario on one database.
  let first: RunJson;
  let fileAfterFirst = "";
  let second: RunJson;
  let synced: EventUser[];
  let eventCount = 0;

  const expected = () => expectedClassMembers(sandbox.district, ELA6, LINCOLN);
  const expectedMath = () => expectedCourseMembers(sandbox.district, ["Math 7", "Math 8"], ["07"]);

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, seed: 11 });
    ws = await Workspace.create("sync");
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING, MATH] });
  });

  afterAll(async () => {
    await sandbox?.close();
    await ws?.remove();
  });

  it("first sync adds every member, stores them, emits one event per add and writes them to the file", async () => {
    const members = expected();
    // The twin sections together, minus tobedeleted / disabled users, each student once.
    expect(members.size).toBeGreaterThan(20);
    sandbox.resetStats();

    const result = await ws.cli(["sync", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const runs = JSON.parse(result.stdout) as { runs: RunJson[] };
    expect(runs.runs.map((r) => r.mapping)).toEqual([ELA6_MAPPING.name, MATH.name]);
    first = runs.runs[0]!;
    const math = runs.runs[1]!;
    expect(Object.keys(first)).toEqual(RUN_KEYS);
    expect(first).toMatchObject({
      mapping: ELA6_MAPPING.name,
      status: "succeeded",
      members: members.size,
      added: members.size,
      removed: 0,
      updated: 0,
      error: null,
    });
    expect(first.runId).toMatch(/^run_/);
    const mathMembers = expectedMath();
    expect(mathMembers.members.size).toBeGreaterThan(10);
    expect(mathMembers.excluded).toBeGreaterThan(10);
    expect(math).toMatchObject({
      status: "succeeded",
      members: mathMembers.members.size,
      added: mathMembers.members.size,
      error: null,
    });
    // The run counts every request it made, and the server saw exactly those.
    expect(first.requests).toBeGreaterThan(0);
    expect(math.requests).toBeGreaterThan(0);
    expect(sandbox.stats().apiRequests).toBe(first.requests + math.requests);
    // Logs go to stderr, never a credential.
    expect(result.stderr).toContain("sync committed");
    expect(result.stderr + result.stdout).not.toContain(CLIENT_SECRET);

    const all = await ws.events();
    expect(all).toHaveLength(members.size + mathMembers.members.size);
    const events = all.filter((e) => e.mapping === ELA6_MAPPING.name);
    expect(events).toHaveLength(members.size);
    expect(eventPairs(events)).toEqual([...members.keys()].map((id) => `add ${id}`).sort());
    for (const event of events) {
      expect(Object.keys(event)).toEqual([...EVENT_KEYS, "deliveries"]);
      expect(event).toMatchObject({ type: "add", mapping: ELA6_MAPPING.name, product: "creative-cloud" });
      expect(event.runId).toBe(first.runId);
      expect(event.id).toMatch(/^evt_/);
      expect(event.occurredAt).toMatch(ISO);
      expect(event.user).toEqual(members.get(event.user.sourcedId));
    }
    const mathEvents = all.filter((e) => e.mapping === MATH.name);
    expect(eventPairs(mathEvents)).toEqual([...mathMembers.members.keys()].map((id) => `add ${id}`).sort());
    for (const event of mathEvents) {
      expect(event).toMatchObject({ type: "add", product: MATH.product, runId: math.runId });
      expect(event.user).toEqual(mathMembers.members.get(event.user.sourcedId));
    }
    for (const event of all) {
      expect(event.deliveries).toEqual([
        expect.objectContaining({ sink: SINK, state: "delivered", lastError: null }),
      ]);
    }
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);

    // The NDJSON file: exactly one complete line per event, in outbox order, in the documented shape.
    fileAfterFirst = await ws.eventsFile();
    const lines = parseNdjson(fileAfterFirst);
    expect(lines).toHaveLength(all.length);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(EVENT_KEYS);
      expect(Object.keys(line.user)).toEqual(USER_KEYS);
    }
    expect(lines).toEqual(all.map(withoutDeliveries));
    eventCount = all.length;

    synced = bySourcedId(await ws.members(ELA6_MAPPING.name));
    expect(synced).toEqual(bySourcedId(members.values()));
    expect(bySourcedId(await ws.members(MATH.name))).toEqual(bySourcedId(mathMembers.members.values()));

    const history = await ws.history();
    expect(history.map((r) => r.mapping).sort()).toEqual([ELA6_MAPPING.name, MATH.name].sort());
    const row = history.find((r) => r.mapping === ELA6_MAPPING.name)!;
    expect(Object.keys(row)).toEqual(HISTORY_KEYS);
    expect(row).toMatchObject({ ...first, trigger: "cli" });
    expect(row.startedAt).toMatch(ISO);
    expect(row.finishedAt).toMatch(ISO);
    expect(Date.parse(row.finishedAt) - Date.parse(row.startedAt)).toBe(row.durationMs);
  });

  it("an unchanged second sync emits nothing and leaves the file as it was", async () => {
    const runs = await ws.sync();
    expect(runs).toHaveLength(2);
    const unchanged = { status: "succeeded", added: 0, removed: 0, updated: 0, error: null };
    expect(runs[0]).toMatchObject({ ...unchanged, mapping: ELA6_MAPPING.name, members: first.members });
    expect(runs[1]).toMatchObject({ ...unchanged, mapping: MATH.name, members: expectedMath().members.size });
    second = runs[0]!;
    expect(second.runId).not.toBe(first.runId);
    expect(await ws.events()).toHaveLength(eventCount);
    expect(await ws.eventsFile()).toBe(fileAfterFirst);
    expect(bySourcedId(await ws.members(ELA6_MAPPING.name))).toEqual(synced);
  });

  it("a dry run reports the change and writes only a dry-run history row; the real sync emits exactly it", async () => {
    const change = sandbox.mutate({
      kind: "churn",
      seed: 7,
      adds: 3,
      removes: 2,
      updates: 2,
      classTitle: ELA6,
      school: LINCOLN,
      removeMode: "mixed",
    });
    expect([change.added.length, change.removed.length, change.updated.length]).toEqual([3, 2, 2]);
    const after = expected();
    const counts = { members: after.size, added: 3, removed: 2, updated: 2 };

    // Only the mapping named on the command line runs.
    const [dry, ...others] = await ws.sync(["--dry-run", ELA6_MAPPING.name]);
    expect(others).toEqual([]);
    expect(dry).toMatchObject({ status: "dry-run", error: null, ...counts });
    expect(await ws.eventsFile()).toBe(fileAfterFirst);

    // Reports the same diff again: the dry run changed no snapshot (and, below, emitted no event).
    const [run, ...rest] = await ws.sync([ELA6_MAPPING.name]);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({ status: "succeeded", error: null, ...counts });

    const events = await ws.events(["--run", run!.runId]);
    expect(eventPairs(events)).toEqual(
      [
        ...change.added.map((a) => `add ${a.sourcedId}`),
        ...change.removed.map((r) => `remove ${r.sourcedId}`),
        ...change.updated.map((u) => `update ${u.sourcedId}`),
      ].sort(),
    );
    const previous = new Map(synced.map((m) => [m.sourcedId, m]));
    for (const event of events) {
      expect(event).toMatchObject({
        mapping: ELA6_MAPPING.name,
        product: "creative-cloud",
        runId: run!.runId,
      });
      // Adds and updates carry the user as now; a remove carries the user as last synced.
      const user: EventUser | undefined =
        event.type === "remove" ? previous.get(event.user.sourcedId) : after.get(event.user.sourcedId);
      expect(event.user).toEqual(user);
    }
    for (const update of change.updated) {
      const event = events.find((e) => e.type === "update" && e.user.sourcedId === update.sourcedId)!;
      for (const [field, { to }] of Object.entries(update.changes)) {
        expect(event.user[field as keyof EventUser]).toEqual(to);
      }
    }

    expect(bySourcedId(await ws.members(ELA6_MAPPING.name))).toEqual(bySourcedId(after.values()));
    const file = await ws.eventsFile();
    expect(file.startsWith(fileAfterFirst)).toBe(true);
    expect(parseNdjson(file.slice(fileAfterFirst.length))).toEqual(events.map(withoutDeliveries));
    expect(parseNdjson(file)).toHaveLength(eventCount + events.length);

    // The history, newest first: the dry run left its row (and nothing else did anything).
    const history = await ws.history(["--mapping", ELA6_MAPPING.name]);
    expect(history.map((r) => [r.runId, r.status])).toEqual([
      [run!.runId, "succeeded"],
      [dry!.runId, "dry-run"],
      [second.runId, "succeeded"],
      [first.runId, "succeeded"],
    ]);
    expect(history[1]).toMatchObject({ ...dry, trigger: "cli" });
  });
});

function withoutDeliveries(event: EventJson): EventJson {
  const { deliveries: _deliveries, ...rest } = event;
  return rest;
}
