import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendEvents } from "../../src/events/sinks/file.js";
import type { RosterEvent } from "../../src/sync/events.js";

function event(n: number): RosterEvent {
  return {
    id: `evt_${n}`,
    type: "add",
    mapping: "m",
    product: "p",
    runId: "run_1",
    occurredAt: "2026-11-29T07:00:00.000Z",
    user: {
      sourcedId: `u${n}`,
      role: "student",
      username: null,
      email: null,
      givenName: "Zoë",
      familyName: null,
      grades: [],
      orgs: [],
    },
  };
}

const ids = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as RosterEvent).id);

describe("file sink", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "file-sink-"));
    file = path.join(dir, "nested", "events.ndjson");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("appends one JSON line per event, creating the folder, and returns the new length", async () => {
    const first = await appendEvents(file, [event(1), event(2)], 0n);
    expect(ids(file)).toEqual(["evt_1", "evt_2"]);
    expect(first).toEqual({ position: BigInt(readFileSync(file).length), written: 2, skipped: 0 });
    const second = await appendEvents(file, [event(3)], first.position);
    expect(ids(file)).toEqual(["evt_1", "evt_2", "evt_3"]);
    expect(second.written).toBe(1);
  });

  it("does not write again what a crashed delivery already wrote past the confirmed position", async () => {
    const confirmed = await appendEvents(file, [event(1)], 0n);
    // A delivery wrote events 2 and 3, then the process died before marking them delivered.
    await appendEvents(file, [event(2), event(3)], confirmed.position);
    const retry = await appendEvents(file, [event(2), event(3), event(4)], confirmed.position);
    expect(ids(file)).toEqual(["evt_1", "evt_2", "evt_3", "evt_4"]);
    expect(retry).toMatchObject({ written: 1, skipped: 2 });
  });

  it("cuts a line torn by a crash and writes its event again", async () => {
    const confirmed = await appendEvents(file, [event(1)], 0n);
    appendFileSync(file, JSON.stringify(event(2)).slice(0, 25));
    await appendEvents(file, [event(2)], confirmed.position);
    expect(ids(file)).toEqual(["evt_1", "evt_2"]);
  });

  it("starts over when the file was rotated (shorter than the position)", async () => {
    const confirmed = await appendEvents(file, [event(1), event(2)], 0n);
    writeFileSync(file, "");
    await appendEvents(file, [event(3)], confirmed.position);
    expect(ids(file)).toEqual(["evt_3"]);
  });

  it("fails with the path when the file cannot be written", async () => {
    writeFileSync(path.join(dir, "blocker"), "");
    await expect(appendEvents(path.join(dir, "blocker", "events.ndjson"), [event(1)], 0n)).rejects.toThrow(
      /file sink .*blocker\/events\.ndjson/,
    );
  });
});
