// `roster-sync worker` (the BUILT CLI) on the embedded database, as the example config runs it
// when DATABASE_URL is not set: one process owns the folder (SPEC §7), its locks are in-process.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { spawnWorker, testPrefix, waitFor, writeWorkerConfig, useWorkerFixture } from "../helpers/worker.js";

const suite = useWorkerFixture("worker-embedded");

interface HistoryJson {
  runs: { mapping: string; status: string; added: number; trigger: string }[];
}

describe("the worker on the embedded database", () => {
  it("runs its schedule, holds the folder against other commands while it runs, and leaves it readable", async () => {
    const prefix = testPrefix();
    suite.prefixes.push(prefix);
    const config = path.join(suite.dir, "embedded.yaml");
    await writeWorkerConfig(config, {
      databaseUrl: "file:./embedded-db",
      redisUrl: suite.redisUrl,
      prefix,
      sandboxUrl: suite.sandbox.url,
      mappings: [{ name: "embedded", schedule: { every: "1s" } }],
      eventsPath: "./embedded.ndjson",
    });
    const worker = await spawnWorker(config, { cwd: suite.dir });
    suite.workers.push(worker);
    const commits = () => worker.logs.filter((l) => l.msg === "sync committed" && l.mapping === "embedded");
    await waitFor(() => commits().length >= 3, { timeoutMs: 20_000, what: "3 runs" });
    const added = Number(commits()[0]!.added);
    expect(added).toBeGreaterThan(50);
    await waitFor(
      async () =>
        (await readFile(path.join(suite.dir, "embedded.ndjson"), "utf8").catch(() => ""))
          .split("\n")
          .filter(Boolean).length === added,
      { timeoutMs: 10_000, what: "the first run's events in the file sink" },
    );

    // Another command on the same folder is refused, naming the worker, and changes nothing.
    const refused = await runCli(["history", "--config", config], { cwd: suite.dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`in use by roster-sync worker (pid ${worker.pid}`);

    await worker.stop();
    expect((await worker.exited).code).toBe(0);
    const history = await runCli(["history", "--config", config, "--mapping", "embedded", "--json"], {
      cwd: suite.dir,
    });
    expect(history.code, history.stderr).toBe(0);
    const { runs } = JSON.parse(history.stdout) as HistoryJson;
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.every((r) => r.status === "succeeded" && r.trigger === "schedule")).toBe(true);
    expect(runs.reduce((sum, r) => sum + r.added, 0)).toBe(added);
  });
});
