// End to end (issue 9 items 8, 10, 11): schedules and time zones the worker could not use, YAML
// alias bombs, a bad LOG_LEVEL and a sandbox port in use are each one clear line and a non-zero
// exit from the built CLI; a secret written in the file is a warning from `validate`, which still
// exits 0.
import { createServer, type Server } from "node:net";
import { writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { assertBuilt, parseJson } from "../helpers/cli.js";
import { positionOf } from "../helpers/config.js";
import { CLIENT_SECRET, ELA6_MAPPING, STEP_TIMEOUT, Workspace, configYaml } from "./fixture.js";

let sandbox: Sandbox;
let ws: Workspace;

beforeAll(async () => {
  assertBuilt();
  sandbox = await startSandbox({ port: 0, seed: 2 });
  ws = await Workspace.create("config-errors");
});

afterAll(async () => {
  await sandbox?.close();
  await ws?.remove();
});

const good = () => configYaml({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING] });

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** stderr is exactly one line, with no stack frame in it. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe("unusable schedules and time zones exit 2 from every command", { timeout: STEP_TIMEOUT }, () => {
  it.each([
    { value: '"99 99 99 99 99"', edit: (t: string) => t + 'defaults:\n  schedule: "99 99 99 99 99"\n' },
    { value: '"*/0 * * * *"', edit: (t: string) => t + 'defaults:\n  schedule: "*/0 * * * *"\n' },
    {
      value: '"not a cron"',
      edit: (t: string) =>
        t.replace("product: creative-cloud", 'product: creative-cloud\n    schedule: "not a cron"'),
    },
    { value: "Mars/Olympus_Mons", edit: (t: string) => t + "defaults:\n  timezone: Mars/Olympus_Mons\n" },
  ])("$value", async ({ value, edit }) => {
    const text = edit(good());
    const file = ws.path("sync.config.yaml");
    await writeFile(file, text);
    // `worker` loads the config before it opens Redis or the database.
    for (const command of [["validate"], ["sync", "--dry-run"], ["history", "--json"], ["worker"]]) {
      const result = await ws.cli(command, { REDIS_URL: "redis://127.0.0.1:1" });
      expect(result.code, `${command.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe("");
      expect(oneLine(result.stderr)).toMatch(
        new RegExp(`^roster-sync: ${escape(file)}:${positionOf(text, value)}: (defaults|mappings\\[0\\])\\.`),
      );
    }
  });
});

describe("one line and a non-zero exit instead of a stack trace", { timeout: STEP_TIMEOUT }, () => {
  it("a YAML alias bomb: exit 2 with file, line and column", async () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]",
      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]",
      "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]",
      "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]",
    ].join("\n");
    const text = `${good()}${bomb}\n`;
    const file = ws.path("bomb.yaml");
    await writeFile(file, text);
    const result = await ws.cli(["validate", "--config", file]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(
      `roster-sync: ${file}:${positionOf(text, "*b")}: invalid YAML: aliases expand to too many nodes (over 100; a YAML alias bomb?)`,
    );
  });

  it("LOG_LEVEL=verbose: exit 2 naming the levels", async () => {
    await writeFile(ws.path("sync.config.yaml"), good());
    for (const command of [["history"], ["worker"]]) {
      const result = await ws.cli(command, { LOG_LEVEL: "verbose" });
      expect(result.code, result.stderr).toBe(2);
      expect(oneLine(result.stderr)).toBe(
        'roster-sync: LOG_LEVEL / --log-level: "verbose" is not a log level (trace, debug, info, warn, error, fatal, silent)',
      );
    }
  });

  it("sandbox --port N with the port in use: exit 1 naming the port", async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const result = await ws.cli(["sandbox", "--port", String(port)]);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toBe(
        `roster-sync: sandbox: cannot listen on 127.0.0.1:${port}: the port is in use (--port 0 picks a free one)`,
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

describe("validate warns about a secret written in the file", { timeout: STEP_TIMEOUT }, () => {
  it("names the key path and line, never the secret, and exits 0", async () => {
    const text = configYaml({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING], clientSecret: CLIENT_SECRET });
    const file = ws.path("sync.config.yaml");
    await writeFile(file, text);
    const warning = `roster-sync: warning: ${file}:${positionOf(text, CLIENT_SECRET)}: providers.sandbox.auth.clientSecret: a secret written in plain text in the file; write \${VAR} and set VAR in the environment`;

    const human = await ws.cli(["validate"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain(warning);
    expect(human.stdout).toContain("valid");

    const json = await ws.cli(["validate", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const report = parseJson<{ ok: boolean; warnings: string[] }>(json);
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([warning.replace("roster-sync: warning: ", "")]);
    for (const output of [human.stdout, human.stderr, json.stdout, json.stderr]) {
      expect(output).not.toContain(CLIENT_SECRET);
    }

    // Other commands log it: one warning line among their logs.
    const history = await ws.cli(["history", "--json"]);
    expect(history.code).toBe(0);
    expect(history.stderr).toContain("providers.sandbox.auth.clientSecret: a secret written in plain text");
    expect(history.stderr).not.toContain(CLIENT_SECRET);
  });
});

describe("roster-sync config: the effective config", { timeout: STEP_TIMEOUT }, () => {
  it("shows blocks inherited field by field and every secret as ***", async () => {
    const text = `${configYaml({
      baseUrl: sandbox.url,
      mappings: [{ ...ELA6_MAPPING, safety: { maxRemovals: 10 } }],
      clientSecret: CLIENT_SECRET,
    })}defaults:\n  safety: { maxRemovalPercent: 5 }\n`;
    await writeFile(
      ws.path("sync.config.yaml"),
      text.replace("file:./db", "postgresql://u:db-pw@127.0.0.1/x"),
    );
    const result = await ws.cli(["config", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const { config } = parseJson<{
      config: {
        database: { url: string };
        providers: Record<string, { auth: Record<string, string> }>;
        mappings: { safety: unknown; provider: string }[];
      };
    }>(result);
    expect(config.mappings[0]).toMatchObject({
      provider: "sandbox",
      safety: { maxRemovals: 10, maxRemovalPercent: 5 },
    });
    expect(config.providers.sandbox!.auth).toMatchObject({ clientSecret: "***" });
    expect(config.database.url).toBe("postgresql://u:***@127.0.0.1/x");
    expect(result.stdout + result.stderr).not.toMatch(new RegExp(`${CLIENT_SECRET}|db-pw`));
  });
});
