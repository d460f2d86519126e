// What saving relay progress often costs: 10,000 events relayed to a webhook receiver on 127.0.0.1
// (answering 200 at once, so the relay itself is what is timed), on PGlite and on a private
// PostgreSQL, once per `saveProgressEvery` setting. `saveProgressEvery: 100` saves once per outbox
// batch, as the relay did before it became a setting; 5 is the default; 1 saves after every event.
//
//   npx tsx bench/relay-webhook.ts [events] [rounds] [settings]   (default 10000 2 100,5,1)
//
// Prints one table row per database and setting (the fastest round): wall time, events per second,
// saves.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import type { SinkConfig } from "../src/config/schema.js";
import { createRelay, sinkName } from "../src/events/relay.js";
import { commitRun, openDatabase, type EventRow } from "../src/store/index.js";
import { eventId, newRunId } from "../src/util/ids.js";
import setupServices from "../test/setup/services.js";

const EVENTS = Number(process.argv[2] ?? 10_000);
const SETTINGS = (process.argv[4] ?? "100,5,1").split(",").map(Number);
const ROUNDS = Number(process.argv[3] ?? 2);

async function relayAll(databaseUrl: string, every: number, receiverUrl: string): Promise<number> {
  const db = await openDatabase(databaseUrl, { owner: "bench relay-webhook" });
  try {
    const sink = {
      type: "webhook",
      url: receiverUrl,
      secret: "bench-secret-0123",
      timeoutMs: 10_000,
      maxAttempts: 10,
      retryDelayMs: 1000,
      maxRetryDelayMs: 300_000,
      maxRetryAfterMs: 3_600_000,
      saveProgressEvery: every,
      saveProgressMs: 1000,
    } satisfies SinkConfig;
    const startedAt = new Date();
    const runId = newRunId(startedAt);
    const events: EventRow[] = Array.from({ length: EVENTS }, (_, i) => ({
      id: eventId(runId, "add", `stu-${i}`),
      runId,
      mapping: "bench",
      type: "add",
      product: "bench",
      occurredAt: startedAt,
      user: { sourcedId: `stu-${i}`, role: "student", username: `student.${i}`, grades: ["06"], orgs: [] },
    }));
    await commitRun(db, {
      run: {
        id: runId,
        mapping: "bench",
        status: "succeeded",
        trigger: "cli",
        startedAt,
        finishedAt: startedAt,
        members: EVENTS,
        added: EVENTS,
        removed: 0,
        updated: 0,
        requests: 0,
        durationMs: 0,
        error: null,
        forced: false,
      },
      snapshot: { upserts: [], removes: [] },
      events,
      sinks: [sinkName(sink)],
    });
    const relay = createRelay({ db, sinks: [sink], logger: pino({ level: "silent" }) });
    const t0 = performance.now();
    let delivered = 0;
    try {
      while (delivered < EVENTS) {
        const [result] = await relay.relayOnce();
        if (result?.error || result?.delivered === 0) {
          throw new Error(`relay stopped after ${delivered}: ${result?.error ?? "nothing delivered"}`);
        }
        delivered += result!.delivered;
      }
    } finally {
      await relay.close();
    }
    return performance.now() - t0;
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200).end("ok"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const dir = await mkdtemp(path.join(tmpdir(), "roster-sync-bench-relay-"));
  const urls: Record<string, string> = {};
  const teardown = await setupServices({
    provide: (key: string, value: string) => (urls[key] = value),
  } as never);
  // Each setting is measured ROUNDS times, interleaved, and the fastest kept: the machine is shared,
  // and a slow round says more about the neighbours than about the relay.
  const best = new Map<string, number>();
  try {
    const admin = new pg.Client({ connectionString: urls.databaseUrl });
    await admin.connect();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const every of SETTINGS) {
        for (const kind of ["PGlite", "PostgreSQL"] as const) {
          let url = `file:${path.join(dir, `db-${round}-${every}`)}`;
          if (kind === "PostgreSQL") {
            const name = `bench_relay_${round}_${every}_${process.pid}`;
            await admin.query(`CREATE DATABASE "${name}"`);
            url = urls.databaseUrl!.replace(/\/postgres$/, `/${name}`);
          }
          const ms = await relayAll(url, every, receiverUrl);
          process.stderr.write(
            `round ${round + 1}: ${kind} saveProgressEvery ${every}: ${Math.round(ms)} ms\n`,
          );
          const key = `${kind}|${every}`;
          best.set(key, Math.min(best.get(key) ?? Infinity, ms));
        }
      }
    }
    await admin.end();
  } finally {
    await teardown();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
  const rows = [...best].map(([key, ms]) => {
    const [kind, every] = key.split("|") as [string, string];
    const rate = Math.round((EVENTS / ms) * 1000);
    const saves = Math.ceil(EVENTS / Number(every));
    return `| ${kind.padEnd(10)} | ${every.padStart(17)} | ${(ms / 1000).toFixed(2).padStart(6)} s | ${String(rate).padStart(8)} | ${String(saves).padStart(6)} |`;
  });
  process.stdout.write(
    `${EVENTS} events to a loopback webhook\n` +
      `| database   | saveProgressEvery |   wall   | events/s | saves  |\n` +
      `| ---------- | ----------------- | -------- | -------- | ------ |\n` +
      `${rows.join("\n")}\n`,
  );
}

await main();
