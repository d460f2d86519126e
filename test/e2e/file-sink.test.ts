// End to end: the NDJSON file sink across crashes. A sink that cannot be written keeps its events
// pending without failing the runs; a process that died while appending (a torn last line) or after
// appending but before marking the events delivered leaves no duplicates and loses nothing: the next
// `sync` completes the file so that every event is in it exactly once, in outbox order.
import { appendFile, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt } from "../helpers/cli.js";
import {
  ELA6,
  ELA6_MAPPING,
  LINCOLN,
  STEP_TIMEOUT,
  Workspace,
  parseNdjson,
  type EventJson,
} from "./fixture.js";

const EVENTS = "out/events.ndjson";
const SINK = `file:${EVENTS}`;

/** An event's line exactly as the sink writes it. */
function line(event: EventJson): string {
  const { deliveries: _deliveries, ...rest } = event;
  return `${JSON.stringify(rest)}\n`;
}

describe("file sink: at most once in the file, at least once delivered", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;

  /** Makes the sink undeliverable: `out` becomes a regular file, so the events file cannot be created. */
  async function breakSink(): Promise<void> {
    await rename(ws.path("out"), ws.path("out-saved")).catch(() => undefined);
    await writeFile(ws.path("out"), "not a folder\n");
  }

  async function repairSink(): Promise<void> {
    await rm(ws.path("out"));
    await rename(ws.path("out-saved"), ws.path("out")).catch(() => mkdir(ws.path("out")));
  }

  /** Every stored event is in the file exactly once, in outbox order, and marked delivered. */
  async function expectFileComplete(): Promise<EventJson[]> {
    const events = await ws.events();
    const lines = parseNdjson(await ws.eventsFile(EVENTS));
    expect(lines.map((e) => e.id)).toEqual(events.map((e) => e.id));
    for (const event of events) {
      expect(event.deliveries).toEqual([
        expect.objectContaining({ sink: SINK, state: "delivered", lastError: null }),
      ]);
    }
    return events;
  }

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({ port: 0, seed: 31 });
    ws = await Workspace.create("sink");
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING], eventsPath: `./${EVENTS}` });
  });

  afterAll(async () => {
    await sandbox?.close();
    await ws?.remove();
  });

  it("a sink that cannot be written keeps the events pending; the runs still succeed", async () => {
    await breakSink();
    const result = await ws.cli(["sync", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const [run] = (JSON.parse(result.stdout) as { runs: { status: string; added: number }[] }).runs;
    expect(run).toMatchObject({ status: "succeeded" });
    expect(run!.added).toBeGreaterThan(20);
    expect(result.stderr).toContain("event delivery failed; events stay pending");

    const events = await ws.events();
    expect(events).toHaveLength(run!.added);
    for (const event of events) {
      expect(event.deliveries).toEqual([
        expect.objectContaining({
          sink: SINK,
          state: "pending",
          attempts: 1,
          lastError: expect.stringContaining(EVENTS),
        }),
      ]);
    }
  });

  it("after a crash that tore the last line, the next sync writes every pending event exactly once", async () => {
    const pending = await ws.events();
    await repairSink();
    // What a process killed mid-append leaves: some complete lines, then part of the next one, cut
    // inside a multi-byte character where the names have one (the sandbox's names carry accents).
    const half = Math.floor(pending.length / 2);
    const done = Math.max(
      half,
      pending.findIndex((e, i) => i >= half && Buffer.from(line(e)).some((byte) => byte >= 0x80)),
    );
    const torn = Buffer.from(line(pending[done]!));
    const firstWide = torn.findIndex((byte) => byte >= 0x80);
    const cut = firstWide >= 0 ? firstWide + 1 : Math.floor(torn.length / 2);
    await writeFile(
      ws.path(EVENTS),
      Buffer.concat([Buffer.from(pending.slice(0, done).map(line).join("")), torn.subarray(0, cut)]),
    );

    const [run] = await ws.sync();
    expect(run).toMatchObject({ status: "succeeded", added: 0, removed: 0, updated: 0 });
    const events = await expectFileComplete();
    expect(events.map((e) => e.id)).toEqual(pending.map((e) => e.id));
    // The lines are the events, byte for byte.
    expect(await ws.eventsFile(EVENTS)).toBe(pending.map(line).join(""));
  });

  it("after a crash between appending and marking delivered, the next sync does not write them again", async () => {
    const before = await ws.eventsFile(EVENTS);
    const change = sandbox.mutate({
      kind: "churn",
      seed: 4,
      adds: 2,
      removes: 1,
      updates: 2,
      classTitle: ELA6,
      school: LINCOLN,
    });
    await breakSink();
    const [run] = await ws.sync();
    expect(run).toMatchObject({ status: "succeeded", added: 2, removed: 1, updated: 2 });
    const fresh = await ws.events(["--run", run!.runId]);
    expect(fresh).toHaveLength(change.added.length + change.removed.length + change.updated.length);
    expect(fresh.every((e) => e.deliveries![0]!.state === "pending")).toBe(true);

    // The process appended the whole batch and died before recording it.
    await repairSink();
    await appendFile(ws.path(EVENTS), fresh.map(line).join(""));

    const [again] = await ws.sync();
    expect(again).toMatchObject({ status: "succeeded", added: 0, removed: 0, updated: 0 });
    await expectFileComplete();
    expect(await ws.eventsFile(EVENTS)).toBe(before + fresh.map(line).join(""));
  });
});
