// `npm run bench` (issue 4, "Speed"): one command, one table, bench/results.json.
//
// Fetch scenarios: the sandbox (this process) serves a generated district of 20 schools × 3,000
// students at 20 ms a request and 50 requests a second; the BUILT CLI runs
// `sync --dry-run --json` on each scenario's mappings in a child process, as a user would, with
// a preload that reports its peak RSS. The baseline, in the same run and against the same server,
// is the seed library's sequential pager (bench/baseline.ts). Storage rows: bench/store.ts, in
// child processes too. Columns and definitions: README, "Benchmarks".
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startSandbox, type Sandbox } from "../src/sandbox/index.js";
import setupServices from "../test/setup/services.js";
import { BASELINE, DISTRICT, LIMITS, scenarios, syncConfig, type Scenario } from "./scenarios.js";
import { printTable, type Result } from "./table.js";

/** For working on one part: BENCH_ONLY=a,b,c,store,diff (default: everything). BENCH_LOGS=dir keeps
 * each sync's log there. */
const ONLY = new Set((process.env.BENCH_ONLY ?? "a,b,c,store,diff").split(",").map((s) => s.trim()));
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CHILD_TIMEOUT_MS = 180_000;
const STORE_MEMBERS = 100_000;
const DIFF_MEMBERS = 1_000_000;

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tsx = (script: string, ...args: string[]) => ["--import", "tsx", path.join(ROOT, script), ...args];
const mb = (kb: number) => Math.round(kb / 1024);
const seconds = (ms: number) => Math.round(ms) / 1000;

/** The child's JSON answer: its whole stdout (the CLI's --json) or its last line (our scripts). */
function lastJson<T>(result: ChildResult, what: string): T {
  const out = result.stdout.trim();
  try {
    return JSON.parse(out.startsWith("{\n") ? out : (out.split("\n").at(-1) ?? "")) as T;
  } catch {
    throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr.slice(-4000)}`);
  }
}

/** The sync's own time, from the first run's start to the last run's end (pino `time` of the
 * "sync started" and "dry run" lines): process start, database open and migrations excluded. */
function syncSpanMs(stderr: string): number {
  let first = Infinity;
  let last = -Infinity;
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) {
      continue;
    }
    const entry = JSON.parse(line) as { msg?: string; time?: number };
    if (entry.msg === "sync started" && entry.time !== undefined) {
      first = Math.min(first, entry.time);
    } else if (entry.msg?.startsWith("dry run") && entry.time !== undefined) {
      last = Math.max(last, entry.time);
    }
  }
  if (!Number.isFinite(first) || !Number.isFinite(last)) {
    throw new Error(`no run start and end in the sync's log:\n${stderr.slice(-4000)}`);
  }
  return last - first;
}

/** The sandbox's limiter starts full again and its counters at zero before each measurement. */
function fresh(sandbox: Sandbox): void {
  sandbox.setFaults({ latencyMs: LIMITS.latencyMs, requestsPerSecond: LIMITS.requestsPerSecond });
  sandbox.resetStats();
}

async function fetchScenario(
  sandbox: Sandbox,
  scenario: Scenario,
  dir: string,
  databaseUrl: string,
): Promise<Result> {
  const configFile = path.join(dir, `${scenario.id}.json`);
  const rssFile = path.join(dir, `${scenario.id}.rss`);
  await writeFile(configFile, syncConfig(scenario, sandbox, databaseUrl));

  fresh(sandbox);
  const cli = await run(
    [
      ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
      "--import",
      path.join(ROOT, "bench/peak-rss.mjs"),
      path.join(ROOT, "bin/roster-sync.js"),
      "sync",
      "--dry-run",
      "--json",
      "--config",
      configFile,
    ],
    { LOG_LEVEL: "info", BENCH_RSS_FILE: rssFile },
    dir,
  );
  const { runs } = lastJson<{ runs: { status: string; members: number; error: string | null }[] }>(
    cli,
    `sync of scenario ${scenario.id}`,
  );
  const failed = runs.find((r) => r.status !== "dry-run");
  if (failed) {
    throw new Error(`scenario ${scenario.id}: a run ${failed.status}: ${failed.error}`);
  }
  const stats = sandbox.stats();
  const wallMs = syncSpanMs(cli.stderr);
  if (process.env.BENCH_LOGS) {
    await writeFile(path.join(process.env.BENCH_LOGS, `sync-${scenario.id}.log`), cli.stderr);
  }
  const members = runs.reduce((n, r) => n + r.members, 0);

  fresh(sandbox);
  const base = lastJson<{
    wallMs: number;
    requests: number;
    status429: number;
    members: number;
    maxRssKb: number;
  }>(
    await run(
      tsx(
        "bench/baseline.ts",
        JSON.stringify({
          baseUrl: sandbox.url,
          clientId: sandbox.clientId,
          clientSecret: sandbox.clientSecret,
          pageSize: BASELINE.pageSize,
          mappings: scenario.mappings,
        }),
      ),
    ),
    `baseline of scenario ${scenario.id}`,
  );
  if (base.members !== members) {
    throw new Error(`scenario ${scenario.id}: ${members} members, but the baseline found ${base.members}`);
  }
  return {
    scenario: `(${scenario.id}) ${scenario.title}`,
    requests: stats.apiRequests,
    minRequests: scenario.minRequests,
    wallSeconds: seconds(wallMs),
    boundSeconds: scenario.minRequests / LIMITS.requestsPerSecond,
    status429: stats.status429,
    peakRssMb: mb(Number(await readFile(rssFile, "utf8"))),
    baselineWallSeconds: seconds(base.wallMs),
    members,
    baselineRequests: base.requests,
    baselineStatus429: base.status429,
    kind: scenario.id === "a" ? "fetch-rss" : "fetch",
  };
}

async function storeRows(label: string, databaseUrl: string | Error): Promise<Result[]> {
  const names = ["initial", "steady"] as const;
  const titles = {
    initial: `diff + commit 100k members, ${label} (empty → 100k adds)`,
    steady: `diff + commit 100k members, ${label} (1 % changed)`,
  };
  if (databaseUrl instanceof Error) {
    return names.map((n) => ({ ...emptyRow(titles[n]), kind: "store", note: databaseUrl.message }));
  }
  const result = await run(
    tsx("bench/store.ts", "commit", JSON.stringify({ databaseUrl, members: STORE_MEMBERS })),
  );
  const rows = result.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { row: string; wallMs: number; maxRssKb: number });
  return names.map((n) => {
    const row = rows.find((r) => r.row === n);
    if (!row) {
      return {
        ...emptyRow(titles[n]),
        kind: "store",
        note: `failed: ${result.stderr.trim().split("\n").at(-1)}`,
      };
    }
    return {
      ...emptyRow(titles[n]),
      wallSeconds: seconds(row.wallMs),
      peakRssMb: mb(row.maxRssKb),
      kind: "store",
    };
  });
}

function emptyRow(scenario: string): Result {
  return {
    scenario,
    requests: null,
    minRequests: null,
    wallSeconds: null,
    boundSeconds: null,
    status429: null,
    peakRssMb: null,
    baselineWallSeconds: null,
    kind: "store",
  };
}

/**
 * A private PostgreSQL as the integration tests start it (test/setup/services.ts, which starts a
 * Redis too), or the reason there is none. `database(name)` creates a fresh database on it.
 */
async function withPostgres<T>(
  fn: (pgsql: { database(name: string): Promise<string> } | Error) => Promise<T>,
): Promise<T> {
  const urls: Record<string, string> = {};
  let teardown: (() => Promise<void>) | undefined;
  try {
    teardown = await setupServices({ provide: (key: string, value: string) => (urls[key] = value) } as never);
  } catch (error) {
    return fn(new Error(`no PostgreSQL: ${(error as Error).message}`));
  }
  try {
    return await fn({
      async database(name) {
        const admin = new pg.Client({ connectionString: urls.databaseUrl });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE "${name}"`);
        } finally {
          await admin.end();
        }
        return urls.databaseUrl!.replace(/\/postgres$/, `/${name}`);
      },
    });
  } finally {
    await teardown();
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, "dist/src/cli/index.js"))) {
    throw new Error("dist/ is missing: run `npm run bench` (it builds first)");
  }
  const dir = await mkdtemp(path.join(tmpdir(), "roster-sync-bench-"));
  const results: Result[] = [];
  try {
    await withPostgres(async (pgsql) => {
      // The sync's database: PostgreSQL where there is one, so that peak RSS is the sync's own; the
      // embedded PGlite alone peaks at several hundred MB (README, "Benchmarks").
      const syncDatabase = (id: string) =>
        pgsql instanceof Error
          ? Promise.resolve(`file:${path.join(dir, `db-${id}`)}`)
          : pgsql.database(`bench_${id}`);
      process.stderr.write("generating the district and starting the sandbox…\n");
      const sandbox = await startSandbox({
        port: 0,
        ...DISTRICT,
        maxPageSize: LIMITS.maxPageSize,
        faults: { latencyMs: LIMITS.latencyMs, requestsPerSecond: LIMITS.requestsPerSecond },
      });
      try {
        for (const scenario of scenarios(sandbox.district).filter((sc) => ONLY.has(sc.id))) {
          process.stderr.write(`scenario (${scenario.id}) ${scenario.title}…\n`);
          const row = await fetchScenario(sandbox, scenario, dir, await syncDatabase(scenario.id));
          results.push(pgsql instanceof Error ? { ...row, note: `database PGlite (${pgsql.message})` } : row);
        }
      } finally {
        await sandbox.close();
      }
      if (!ONLY.has("store")) {
        return;
      }
      process.stderr.write("100k-member diff + commit on PGlite and PostgreSQL…\n");
      results.push(...(await storeRows("PGlite", `file:${path.join(dir, "db-store")}`)));
      results.push(
        ...(await storeRows(
          "PostgreSQL",
          pgsql instanceof Error ? pgsql : await pgsql.database("bench_store"),
        )),
      );
    });
    if (ONLY.has("diff")) {
      process.stderr.write("1M-member diff in memory…\n");
      const diff = lastJson<{ wallMs: number; baselineWallMs: number; maxRssKb: number }>(
        await run([
          "--max-old-space-size=4096",
          ...tsx("bench/store.ts", "diff", JSON.stringify({ members: DIFF_MEMBERS })),
        ]),
        "1M diff",
      );
      results.push({
        ...emptyRow("diff 1M members in memory (1 % changed)"),
        wallSeconds: seconds(diff.wallMs),
        peakRssMb: mb(diff.maxRssKb),
        baselineWallSeconds: seconds(diff.baselineWallMs),
        kind: "diff",
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(printTable(results));
  if (ONLY.size < 5) {
    process.stdout.write("\n(a partial run: bench/results.json left as it was)\n");
    return;
  }
  await writeFile(path.join(ROOT, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write("\nwrote bench/results.json\n");
}

await main();
