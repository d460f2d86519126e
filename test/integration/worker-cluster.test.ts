// Two `roster-sync worker` processes (the BUILT CLI) on one Redis and one PostgreSQL database:
// one run per trigger and never two runs of a mapping at once; a worker SIGKILLed in the middle of
// a fetch leaves its job to the other, which completes it with exactly one event per member.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { listEvents, listRuns } from "../../src/store/index.js";
import { QUEUE_NAME } from "../../src/app/sync-job.js";
import type { SyncJobResult } from "../../jobs/sync-mapping.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus.js";
import {
  NEVER,
  spawnWorker,
  testPrefix,
  triggerNow,
  waitFor,
  writeWorkerConfig,
  type LogLine,
  type WorkerProcess,
  useWorkerFixture,
} from "../helpers/worker.js";

const suite = useWorkerFixture("worker-cluster");

/** Writes a config for `mappings` under a fresh prefix and starts `n` workers on it. */
async function startWorkers(n: number, mappings: { name: string; schedule: string | { every: string } }[]) {
  const prefix = testPrefix();
  suite.prefixes.push(prefix);
  const file = path.join(suite.dir, `${prefix.slice(1, -1)}.yaml`);
  await writeWorkerConfig(file, {
    databaseUrl: suite.testDb.url,
    redisUrl: suite.redisUrl,
    prefix,
    sandboxUrl: suite.sandbox.url,
    mappings,
    eventsPath: "./events.ndjson",
    worker: { concurrency: 2 },
  });
  const started = await Promise.all(Array.from({ length: n }, () => spawnWorker(file, { cwd: suite.dir })));
  suite.workers.push(...started);
  return { prefix, workers: started };
}

const isLine = (msg: string, mapping: string) => (l: LogLine) => l.msg === msg && l.mapping === mapping;

/** Active, enabled students of sch-01: what the mapping's roster is, straight from the district. */
function expectedMembers(): string[] {
  return suite.sandbox.district
    .schoolUsers("sch-01", "student")
    .filter((u) => u.status !== "tobedeleted" && u.enabledUser !== "false")
    .map((u) => u.sourcedId)
    .sort();
}

async function metrics(worker: WorkerProcess) {
  const res = await fetch(`${worker.metricsUrl}/metrics`);
  return parsePrometheusText(await res.text());
}

describe("two workers on one Redis", () => {
  it("run each mapping once per trigger, runs never overlap, and overlapping triggers are skipped", async () => {
    // Runs take ~2.5 s (12 requests × 200 ms) against a 1 s schedule: most triggers find a run going.
    suite.sandbox.setFaults({ latencyMs: 200 });
    const { prefix, workers: pair } = await startWorkers(2, [{ name: "busy", schedule: { every: "1s" } }]);
    const skippedLogs = () =>
      pair
        .flatMap((w) => w.logs)
        .filter(isLine("trigger skipped: a run of this mapping is in progress", "busy"));
    const tookJobs = (w: WorkerProcess) =>
      w.logs.some(
        (l) => l.mapping === "busy" && (l.msg === "sync started" || l.msg.startsWith("trigger skipped")),
      );
    await waitFor(
      async () =>
        (await listRuns(suite.db, { mapping: "busy", limit: 100 })).filter((r) => r.status === "succeeded")
          .length >= 3 &&
        skippedLogs().length >= 3 &&
        pair.every(tookJobs),
      { timeoutMs: 45_000, what: "3 runs and 3 skipped triggers, on both workers" },
    );

    const connection = new Redis(suite.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue<unknown, SyncJobResult>(QUEUE_NAME, { connection, prefix });
    try {
      await queue.pause(); // no new jobs; the ones running finish
      await waitFor(async () => (await queue.getActiveCount()) === 0, {
        timeoutMs: 20_000,
        what: "no active job",
      });
      const [completed, failed] = await Promise.all([
        queue.getJobs(["completed"]),
        queue.getJobs(["failed"]),
      ]);
      expect(failed.map((j) => j.failedReason)).toEqual([]);
      const results = completed.map((j) => j.returnvalue);
      const skipped = results.filter((r) => r.skipped);
      const ran = results.filter((r): r is Extract<SyncJobResult, { skipped: false }> => !r.skipped);
      expect(skipped.length).toBeGreaterThanOrEqual(3);
      expect(skipped.every((r) => r.skipped && r.reason === "run in progress")).toBe(true);

      // Every trigger is one job, processed once: a run in the history, or a skip.
      const runs = await listRuns(suite.db, { mapping: "busy", limit: 1000 });
      expect(runs.every((r) => r.status === "succeeded" && r.trigger === "schedule")).toBe(true);
      expect(ran.map((r) => r.runId).sort()).toEqual(runs.map((r) => r.id).sort());
      expect(new Set(completed.map((j) => j.id)).size).toBe(completed.length);

      // Never two runs at once: each starts after the one before finished.
      const ordered = [...runs].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
      for (let i = 1; i < ordered.length; i += 1) {
        expect(ordered[i]!.startedAt.getTime()).toBeGreaterThanOrEqual(ordered[i - 1]!.finishedAt.getTime());
      }
      // Both workers took jobs (waited for above), and their skip counters add up to the skipped jobs.
      expect(pair.every(tookJobs)).toBe(true);
      const counted = (await Promise.all(pair.map(metrics))).map(
        (m) =>
          sampleValue(m, "roster_sync_skipped_triggers_total", {
            mapping: "busy",
            reason: "run in progress",
          }) ?? 0,
      );
      expect(counted.reduce((a, b) => a + b, 0)).toBe(skipped.length);
      // The first run added the whole roster, the later ones found nothing new.
      expect(ordered[0]!.added).toBe(expectedMembers().length);
      expect(ordered.slice(1).every((r) => r.added + r.removed + r.updated === 0)).toBe(true);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it("SIGKILL in the middle of a fetch: the other worker completes the run, one add per member", async () => {
    // One trigger, by hand; ~3.6 s of fetching (12 requests × 300 ms).
    suite.sandbox.setFaults({ latencyMs: 300 });
    const { prefix, workers: pair } = await startWorkers(2, [{ name: "killed", schedule: NEVER }]);
    suite.sandbox.resetStats();
    const jobId = await triggerNow(suite.redisUrl, prefix, "killed");
    const victim = await waitFor(() => pair.find((w) => w.logs.some(isLine("sync started", "killed"))), {
      timeoutMs: 20_000,
      what: "a worker starting the run",
    });
    await waitFor(() => suite.sandbox.stats().apiRequests >= 2, {
      timeoutMs: 10_000,
      what: "the fetch under way",
    });
    victim.child.kill("SIGKILL");
    expect((await victim.exited).signal).toBe("SIGKILL");
    expect(victim.logs.some(isLine("sync committed", "killed"))).toBe(false);

    const survivor = pair.find((w) => w !== victim)!;
    const committed = await survivor.waitForLog(
      isLine("sync committed", "killed"),
      30_000,
      "the survivor's commit",
    );
    // The same job, taken up by the survivor's stalled check once the victim's lock lapsed.
    expect(victim.logs.find(isLine("sync started", "killed"))!.jobId).toBe(jobId);
    expect(committed.jobId).toBe(jobId);
    expect(
      survivor.logs.some((l) => l.msg.startsWith("sync job stalled") && l.jobId === committed.jobId),
    ).toBe(true);

    const runs = await listRuns(suite.db, { mapping: "killed", limit: 100 });
    expect(runs.map((r) => [r.status, r.trigger, r.members])).toEqual([
      ["succeeded", "manual", expectedMembers().length],
    ]);
    const events = await listEvents(suite.db, { mapping: "killed", limit: 10_000 });
    expect(events.every((e) => e.type === "add" && e.runId === runs[0]!.id)).toBe(true);
    expect(events.map((e) => String(e.user.sourcedId)).sort()).toEqual(expectedMembers());

    // Delivered by the survivor to the file sink: each member's add exactly once.
    const delivered = await waitFor(
      async () => {
        const lines = (await readFile(path.join(suite.dir, "events.ndjson"), "utf8").catch(() => ""))
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { id: string; mapping: string; user: { sourcedId: string } })
          .filter((e) => e.mapping === "killed");
        return lines.length >= expectedMembers().length && lines;
      },
      { timeoutMs: 10_000, what: "the events in the file sink" },
    );
    expect(delivered.map((e) => e.user.sourcedId).sort()).toEqual(expectedMembers());
    expect(new Set(delivered.map((e) => e.id)).size).toBe(delivered.length);

    await survivor.stop();
    expect((await survivor.exited).code).toBe(0);
  });
});
