// End to end, the webhook sink with a receiver on 127.0.0.1: `sync` SIGKILLed while it delivers (the
// next `sync` delivers the rest; the events sent twice, at least once being the contract, are at
// most the sink's `saveProgressEvery`, default 5, because progress is saved that often); an event
// the receiver refuses, failed and shown by `events`; and a URL that is not http(s), refused by
// `validate` with its place in the file.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt, ROOT } from "../helpers/cli.js";
import { startReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { configYaml, ELA6, STEP_TIMEOUT, Workspace, type EventJson, type MappingSpec } from "./fixture.js";

const SECRET = "whsec_crash-test-93af0c";
const ENV = { WEBHOOK_SECRET: SECRET };
/** The default of `saveProgressEvery`. */
const SAVE_EVERY = 5;
/** The event whose arrival kills the process (it is never answered). */
const KILL_AT = 123;

describe("webhook sink: a process killed mid-delivery", { timeout: STEP_TIMEOUT }, () => {
  let sandbox: Sandbox;
  let ws: Workspace;
  let receiver: WebhookReceiver;
  let kill: (() => void) | undefined;

  /** A workspace whose only sink is a webhook to `url`, the secret from $WEBHOOK_SECRET. */
  async function workspace(name: string, mappings: MappingSpec[], url: string): Promise<Workspace> {
    const created = await Workspace.create(name);
    const config = parse(configYaml({ baseUrl: sandbox.url, mappings })) as { events: { sinks: unknown[] } };
    config.events.sinks = [{ type: "webhook", url, secret: "${WEBHOOK_SECRET}" }];
    await writeFile(created.path("sync.config.yaml"), stringify(config));
    return created;
  }

  beforeAll(async () => {
    assertBuilt();
    // Three schools of 70 students: about 200 adds for the mapping of every student.
    sandbox = await startSandbox({ port: 0, seed: 7, studentsPerSchool: 70 });
    receiver = await startReceiver(SECRET, () => {
      if (receiver.received.length === KILL_AT && kill) {
        kill();
        return "hang";
      }
      return { status: 200 };
    });
    ws = await workspace(
      "webhook-crash",
      [{ name: "all-students", users: "students", product: "creative-cloud" }],
      receiver.url,
    );
  });

  afterAll(async () => {
    await receiver?.stop();
    await sandbox?.close();
    await ws?.remove();
  });

  it(`SIGKILL while delivering: the next sync sends the rest, at most ${SAVE_EVERY} events again`, async () => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, "bin/roster-sync.js"), "sync", "--config", ws.path("sync.config.yaml")],
      {
        cwd: ws.dir,
        env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", ...ENV },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    kill = () => child.kill("SIGKILL");
    expect(await exited, stderr).toBe("SIGKILL");
    expect(receiver.received).toHaveLength(KILL_AT);

    const [run] = await ws.sync([], 0, ENV);
    expect(run).toMatchObject({ status: "succeeded", added: 0 });

    const { events } = await ws.json<{ events: EventJson[] }>(["events"], 0, ENV);
    expect(events.length).toBeGreaterThan(KILL_AT + 50);
    expect(events.every((e) => e.deliveries?.[0]?.state === "delivered")).toBe(true);
    // Every event reached the receiver, in outbox order once duplicates are dropped.
    const firstArrivals = [...new Set(receiver.accepted())];
    expect(firstArrivals).toEqual(events.map((e) => e.id));
    const resent = receiver.received.length - new Set(receiver.received.map((r) => r.id)).size;
    // The unanswered event is always sent again; the others only if their delivery was not saved yet.
    expect(resent).toBeGreaterThanOrEqual(1);
    expect(resent).toBeLessThanOrEqual(SAVE_EVERY);
  });

  it("an event the receiver refuses (422) is failed at once, shown by `events`, and the later ones go", async () => {
    const mapping: MappingSpec = {
      name: "ela6",
      users: "students",
      groups: [{ type: "classes", match: ELA6, matchOn: ["title"] }],
      product: "creative-cloud",
    };
    const refused = await workspace("webhook-refused", [mapping], receiver.url);
    try {
      const before = receiver.received.length;
      receiver.setAnswer(() =>
        receiver.received.length === before + 3
          ? { status: 422, body: "unknown grade for this product" }
          : { status: 200 },
      );
      const [run] = await refused.sync([], 0, ENV);
      expect(run).toMatchObject({ status: "succeeded" });
      const { events } = await refused.json<{ events: EventJson[] }>(["events"], 0, ENV);
      expect(events).toHaveLength(run!.added);
      const states = events.map((e) => e.deliveries?.[0]?.state);
      expect(states).toEqual(events.map((_, i) => (i === 2 ? "failed" : "delivered")));
      expect(events[2]!.deliveries![0]).toMatchObject({ attempts: 1 });
      expect(events[2]!.deliveries![0]!.lastError).toContain("422");
      expect(events[2]!.deliveries![0]!.lastError).toContain("unknown grade for this product");

      const table = await refused.cli(["events"], ENV);
      expect(table.code).toBe(0);
      const row = table.stdout.split("\n").find((l) => l.includes(events[2]!.id));
      expect(row).toContain("=failed(1 attempts)");
      expect(table.stdout).not.toContain(SECRET);
    } finally {
      await refused.remove();
    }
  });

  it("a webhook URL that is not http(s): `validate` exits 2 naming the file, line and column", async () => {
    const bad = await workspace(
      "webhook-ftp",
      [{ name: "x", users: "students", product: "p" }],
      "ftp://127.0.0.1/hooks",
    );
    try {
      const result = await bad.cli(["validate"], ENV);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /sync\.config\.yaml:\d+:\d+: events\.sinks\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/,
      );
    } finally {
      await bad.remove();
    }
  });
});
