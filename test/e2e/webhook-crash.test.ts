// End to end: `sync` SIGKILLed while it delivers to a webhook receiver on 127.0.0.1. The next `sync`
// delivers the rest; the events sent twice (at least once: the receiver de-duplicates on the id)
// are at most the sink's `saveProgressEvery` (default 5), because progress is saved that often.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt, ROOT } from "../helpers/cli.js";
import { startReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { configYaml, STEP_TIMEOUT, Workspace, type EventJson } from "./fixture.js";

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
    ws = await Workspace.create("webhook-crash");
    const config = parse(
      configYaml({
        baseUrl: sandbox.url,
        mappings: [{ name: "all-students", users: "students", product: "creative-cloud" }],
      }),
    ) as { events: { sinks: unknown[] } };
    config.events.sinks = [{ type: "webhook", url: receiver.url, secret: "${WEBHOOK_SECRET}" }];
    await writeFile(ws.path("sync.config.yaml"), stringify(config));
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
});
