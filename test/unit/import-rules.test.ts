// The import rules `npm run lint` checks (.dependency-cruiser.mjs), run by the real
// dependency-cruiser on a small tree written to a temp folder: each rule breaks once, and the
// imports the layering allows pass.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DEPCRUISE = join(ROOT, "node_modules/.bin/depcruise");
const CONFIG = join(ROOT, ".dependency-cruiser.mjs");

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

interface Cruise {
  /** What `npm run lint` goes by: the exit code of depcruise's default (text) report. */
  exitCode: number;
  report: string;
  /** The same cruise as JSON (its exit code is always 0). */
  violations: Violation[];
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

async function depcruise(cwd: string, args: string[]): Promise<{ exitCode: number; stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(DEPCRUISE, ["--config", CONFIG, ...args], { cwd });
    return { exitCode: 0, stdout };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number" || !failed.stdout) {
      throw new Error(`depcruise did not run: ${failed.stderr ?? String(error)}`);
    }
    return { exitCode: failed.code, stdout: failed.stdout };
  }
}

async function cruise(cwd: string, folders: string[]): Promise<Cruise> {
  const [text, json] = await Promise.all([
    depcruise(cwd, folders),
    depcruise(cwd, ["--output-type", "json", ...folders]),
  ]);
  const { summary } = JSON.parse(json.stdout) as { summary: { violations: Violation[] } };
  return { exitCode: text.exitCode, report: text.stdout, violations: summary.violations };
}

const TSCONFIG = JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext" } });

/** Imports the layering allows: downward, the worker's wiring to jobs/, the sandbox command. */
const ALLOWED = {
  "tsconfig.json": TSCONFIG,
  "src/errors.ts": "export class RosterSyncError extends Error {}\n",
  "src/domain.ts": "export interface Member { key: string }\n",
  "src/config/schema.ts":
    'import { RosterSyncError } from "../errors.js";\nexport const e = RosterSyncError;\n',
  "src/store/snapshot.ts": 'import type { Member } from "../domain.js";\nexport type Row = Member;\n',
  "src/sync/run.ts": 'import type { Row } from "../store/snapshot.js";\nexport type Run = Row;\n',
  "src/app/sync-job.ts": 'import type { Run } from "../sync/run.js";\nexport type Data = Run;\n',
  "jobs/sync-mapping.ts": 'import type { Data } from "../src/app/sync-job.js";\nexport type Job = Data;\n',
  "src/worker/index.ts": 'import type { Job } from "../../jobs/sync-mapping.js";\nexport type Wired = Job;\n',
  "src/sandbox/index.ts": "export const startSandbox = (): void => undefined;\n",
  "src/cli/sandbox.ts":
    'import { startSandbox } from "../sandbox/index.js";\nexport const run = startSandbox;\n',
  "src/cli/worker.ts": 'import type { Wired } from "../worker/index.js";\nexport type W = Wired;\n',
};

/** One break of each rule, `.js` specifiers resolving to `.ts` as in the project. */
const BROKEN = {
  "tsconfig.json": TSCONFIG,
  // a value cycle and a type-only cycle
  "src/util/a.ts": 'import { b } from "./b.js";\nexport const a = (): unknown => b;\n',
  "src/util/b.ts": 'import { a } from "./a.js";\nexport const b = (): unknown => a;\n',
  "src/config/x.ts": 'import type { Y } from "./y.js";\nexport interface X { y?: Y }\n',
  "src/config/y.ts": 'import type { X } from "./x.js";\nexport interface Y { x?: X }\n',
  // the store taking a type from sync/ (how the store ↔ sync cycle began)
  "src/sync/member.ts": "export interface Member { key: string }\n",
  "src/store/snapshot.ts": 'import type { Member } from "../sync/member.js";\nexport type Row = Member;\n',
  // jobs/ reaching into the worker it is wired into
  "src/worker/schedules.ts": "export const QUEUE_NAME = 'q';\n",
  "jobs/sync-mapping.ts":
    'import { QUEUE_NAME } from "../src/worker/schedules.js";\nexport const q = QUEUE_NAME;\n',
  // src/ importing jobs/ outside the worker's wiring
  "src/worker/http.ts": 'import { q } from "../../jobs/sync-mapping.js";\nexport const h = q;\n',
  // the product importing a command, and the sandbox
  "src/cli/output.ts": "export const print = (): void => undefined;\n",
  "src/app/report.ts": 'import { print } from "../cli/output.js";\nexport const report = print;\n',
  "src/sandbox/index.ts": "export const startSandbox = (): void => undefined;\n",
  "src/worker/index.ts":
    'import { startSandbox } from "../sandbox/index.js";\nexport const s = startSandbox;\n',
};

describe("import rules (npm run lint:imports)", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "import-rules-"));
    await writeTree(join(dir, "allowed"), ALLOWED);
    await writeTree(join(dir, "broken"), BROKEN);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes imports that point down the layers", async () => {
    const result = await cruise(join(dir, "allowed"), ["src", "jobs"]);
    expect(result.violations).toEqual([]);
    expect(result.exitCode).toBe(0);
  }, 30_000);

  it("fails on each cycle (type-only included) and each import against the layering", async () => {
    const result = await cruise(join(dir, "broken"), ["src", "jobs"]);
    const found = result.violations.map(({ rule, from, to }) => `${rule.name}: ${from} → ${to}`).sort();
    expect(found).toEqual(
      [
        "cli-is-an-entry-point: src/app/report.ts → src/cli/output.ts",
        "jobs-only-from-the-worker-wiring: src/worker/http.ts → jobs/sync-mapping.ts",
        "layer-app: src/app/report.ts → src/cli/output.ts",
        "layer-store: src/store/snapshot.ts → src/sync/member.ts",
        "no-circular: src/config/x.ts → src/config/y.ts",
        "no-circular: src/util/a.ts → src/util/b.ts",
        "no-sandbox-in-the-product: src/worker/index.ts → src/sandbox/index.ts",
        "worker-is-an-entry-point: jobs/sync-mapping.ts → src/worker/schedules.ts",
      ].sort(),
    );
    expect(result.exitCode).not.toBe(0);
    expect(result.report).toContain("error no-circular: src/config/x.ts");
  }, 30_000);

  it("is part of npm run lint", async () => {
    const { scripts } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(scripts.lint).toContain("npm run lint:imports");
    expect(scripts["lint:imports"]).toMatch(
      /depcruise --config \.dependency-cruiser\.mjs src jobs bin bench test\b/,
    );
  });
});
