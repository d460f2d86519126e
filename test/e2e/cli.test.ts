// End to end: the command line's refusals. Bad configuration and bad usage exit 2 naming what is
// wrong (and touch nothing), and an embedded database held by another process exits 1 naming the
// holder, without opening the folder or asking the provider anything.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../../src/sandbox/index.js";
import { ROOT, assertBuilt } from "../helpers/cli.js";
import { positionOf } from "../helpers/config.js";
import { ELA6_MAPPING, LINCOLN, STEP_TIMEOUT, Workspace, configYaml, type MappingSpec } from "./fixture.js";

let sandbox: Sandbox;

beforeAll(async () => {
  assertBuilt();
  sandbox = await startSandbox({ port: 0, seed: 2 });
});

afterAll(async () => {
  await sandbox?.close();
});

describe("configuration and usage errors exit 2", { timeout: STEP_TIMEOUT }, () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await Workspace.create("cli");
  });

  afterAll(async () => {
    await ws?.remove();
  });

  const good = () => configYaml({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING] });

  it.each([
    {
      what: "a value outside its enum",
      edit: (text: string) => text.replace("users: students", "users: pupils"),
      at: "pupils",
      message: /mappings\[0\]\.users: .*"students"/,
      // Every command loads the config first: one case checks three of them.
      commands: [["sync"], ["history", "--json"], ["validate"]],
    },
    {
      what: "an unknown key",
      edit: (text: string) => text.replace("    pageSize: 10", "    pageSizes: 10"),
      at: "pageSizes",
      message: /providers\.sandbox\.pageSizes: unknown key/,
    },
    {
      what: "an unset environment variable",
      edit: (text: string) => text.replace("file:./db", "${E2E_UNSET_DATABASE_URL}"),
      at: "${E2E_UNSET_DATABASE_URL}",
      message: /database\.url: environment variable E2E_UNSET_DATABASE_URL is not set/,
    },
    {
      what: "broken YAML",
      edit: (text: string) => text.replace("product: creative-cloud", "product: [creative-cloud"),
      at: undefined,
      message: /invalid YAML/,
    },
  ])("$what: exit 2 with file:line:col and the key path", async ({ edit, at, message, commands }) => {
    const text = edit(good());
    expect(text).not.toBe(good());
    const file = ws.path("sync.config.yaml");
    await writeFile(file, text);
    for (const command of commands ?? [["sync"]]) {
      const result = await ws.cli(command);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe("");
      const where = at === undefined ? "\\d+:\\d+" : positionOf(text, at);
      expect(result.stderr).toMatch(new RegExp(`^roster-sync: ${escape(file)}:${where}: `));
      expect(result.stderr).toMatch(message);
    }
    // A configuration error touches nothing: no database folder, no events file.
    expect(existsSync(ws.path("db"))).toBe(false);
    expect(existsSync(ws.path("events.ndjson"))).toBe(false);
  });

  it("a missing config file: exit 2 naming it; --config and $SYNC_CONFIG are honoured", async () => {
    const missing = await ws.cli(["history", "--config", "nowhere.yaml"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${ws.path("nowhere.yaml")}: file not found`);

    await writeFile(ws.path("other.yaml"), good().replace("users: students", "users: pupils"));
    const viaEnv = await ws.cli(["sync"], { SYNC_CONFIG: "other.yaml" });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain(ws.path("other.yaml"));
  });

  it("bad usage: exit 2 with what was wrong, before any database or provider is touched", async () => {
    await writeFile(ws.path("sync.config.yaml"), good());
    sandbox.resetStats();
    const cases: { args: string[]; stderr: RegExp }[] = [
      {
        args: ["sync", "no-such-mapping"],
        stderr: /unknown mapping "no-such-mapping" \(configured: ela6-creative-cloud\)/,
      },
      {
        args: ["sync", ELA6_MAPPING.name, "typo-mapping", "--dry-run"],
        stderr: /unknown mapping "typo-mapping"/,
      },
      { args: ["members"], stderr: /required option '--mapping <name>'/ },
      { args: ["history", "--limit", "0"], stderr: /--limit must be a positive whole number, not "0"/ },
      { args: ["events", "--type", "delete"], stderr: /--type must be one of add, remove, update/ },
      { args: ["sync", "--no-such-flag"], stderr: /unknown option '--no-such-flag'/ },
      { args: ["frobnicate"], stderr: /unknown command 'frobnicate'/ },
    ];
    for (const { args, stderr } of cases) {
      const result = await ws.cli(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(stderr);
    }
    expect(sandbox.stats().requests).toBe(0);
    expect(existsSync(ws.path("db"))).toBe(false);
  });
});

describe("--mapping names a mapping", { timeout: STEP_TIMEOUT }, () => {
  let ws: Workspace;
  const TEACHERS: MappingSpec = {
    name: "lincoln-teachers",
    users: "teachers",
    groups: [{ type: "schools", match: LINCOLN, matchOn: ["sourcedId"] }],
    product: "lms",
  };

  beforeAll(async () => {
    ws = await Workspace.create("mapping");
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING, TEACHERS] });
    const runs = await ws.sync();
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    // The teachers' mapping leaves the config; its runs, snapshot and events stay stored.
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING] });
  });

  afterAll(async () => {
    await ws?.remove();
  });

  it("an unknown --mapping exits 2 naming the configured mappings, never an empty list", async () => {
    for (const args of [
      ["history", "--mapping", "ela6-creative-clod"],
      ["events", "--mapping", "ela6-creative-clod"],
      ["members", "--mapping", "ela6-creative-clod"],
      ["history", "--mapping", "ela6-creative-clod", "--json"],
    ]) {
      const result = await ws.cli(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(
        /^roster-sync: unknown mapping "ela6-creative-clod" \(configured: ela6-creative-cloud; a mapping removed from the config stays readable while runs of it are stored, and none are\)\n$/,
      );
    }
    const run = await ws.cli(["events", "--run", "run_nosuchrun"]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      'roster-sync: unknown run "run_nosuchrun" (`roster-sync history` lists the runs)\n',
    );
    // A removed mapping cannot be run: only its stored history is readable.
    const sync = await ws.cli(["sync", TEACHERS.name]);
    expect(sync.code).toBe(2);
    expect(sync.stderr).toContain(`unknown mapping "${TEACHERS.name}" (configured: ela6-creative-cloud)`);
  });

  it("a mapping removed from the config stays readable while its runs are stored, with a warning", async () => {
    const history = await ws.cli(["history", "--mapping", TEACHERS.name, "--json"]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stderr).toContain("mapping is not in the config (removed?): showing what is stored of it");
    const runs = (JSON.parse(history.stdout) as { runs: { mapping: string; added: number }[] }).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]!.mapping).toBe(TEACHERS.name);

    const members = await ws.members(TEACHERS.name);
    expect(members).toHaveLength(runs[0]!.added);
    expect(members.length).toBeGreaterThan(0);
    expect(await ws.events(["--mapping", TEACHERS.name])).toHaveLength(runs[0]!.added);
  });

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-V"]) {
      const result = await ws.cli([flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`${version}\n`);
    }
  });
});

describe("an embedded database held by another process", { timeout: STEP_TIMEOUT }, () => {
  let ws: Workspace;
  let holder: ChildProcess | undefined;

  // Opens the database as a long-running process would (the built store module), says "ready",
  // and closes it when its stdin ends.
  const HOLDER = `
    const { openDatabase } = await import(process.argv[1]);
    const db = await openDatabase("file:./db", { owner: "test-holder" });
    process.stdout.write("ready\\n");
    process.stdin.resume();
    process.stdin.on("end", async () => { await db.close(); process.exit(0); });
  `;

  /** Starts the holder and resolves once it holds the database. */
  function startHolder(): Promise<ChildProcess> {
    const dbModule = pathToFileURL(path.join(ROOT, "dist/src/store/db.js")).href;
    const child = spawn(process.execPath, ["--input-type=module", "-e", HOLDER, dbModule], {
      cwd: ws.dir,
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    holder = child;
    return new Promise((resolve, reject) => {
      let stderr = "";
      const timer = setTimeout(() => reject(new Error(`the holder did not get ready\n${stderr}`)), 60_000);
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the holder exited (${code}) before it was ready\n${stderr}`));
      });
    });
  }

  function exited(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
      } else {
        child.once("exit", () => resolve());
      }
    });
  }

  beforeAll(async () => {
    ws = await Workspace.create("lock");
    await ws.writeConfig({ baseUrl: sandbox.url, mappings: [ELA6_MAPPING] });
  });

  afterEach(async () => {
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      holder.kill("SIGKILL");
      await exited(holder);
    }
    holder = undefined;
  });

  afterAll(async () => {
    await ws?.remove();
  });

  it("exits 1 naming the holder, without fetching anything; works again once the holder is gone", async () => {
    const child = await startHolder();
    sandbox.resetStats();
    for (const args of [["history"], ["sync", "--json"], ["members", "--mapping", ELA6_MAPPING.name]]) {
      const result = await ws.cli(args);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(
        /^roster-sync: database file:\.\/db is in use by test-holder \(pid \d+ on /,
      );
      expect(result.stderr).toContain(`(pid ${child.pid} on `);
      expect(result.stderr).toContain("stop it or use another database");
    }
    expect(sandbox.stats().requests).toBe(0);

    // The holder closes cleanly: the folder is free again.
    child.stdin!.end();
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(existsSync(ws.path("db", "roster-sync.lock"))).toBe(false);
    expect(await ws.history()).toEqual([]);
  });

  it("takes over the lock of a holder that died without releasing it", async () => {
    const child = await startHolder();
    child.kill("SIGKILL");
    await exited(child);
    const lock = JSON.parse(readFileSync(ws.path("db", "roster-sync.lock"), "utf8")) as { pid: number };
    expect(lock.pid).toBe(child.pid);

    const [run] = await ws.sync();
    expect(run).toMatchObject({ status: "succeeded", error: null });
    expect(run!.added).toBeGreaterThan(0);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
