// The storage layer against both backends: embedded PGlite in a temp folder and the private
// PostgreSQL server started by test/setup/services.ts.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DatabaseError, DatabaseLockedError } from "../../src/errors.js";
import { filePath, LOCK_FILE, openDatabase, type Database } from "../../src/store/db.js";
import { defaultMigrationsDir, readMigrations } from "../../src/store/migrate.js";
import {
  commitRun,
  getRun,
  getSinkPosition,
  listEvents,
  listMembers,
  listRuns,
  loadSnapshot,
  markDelivered,
  markFailed,
  pendingDeliveries,
  recordAttempt,
  recordRun,
  type EventRow,
  type RunRow,
} from "../../src/store/index.js";
import { diffMembers } from "../../src/sync/diff.js";
import { buildEvents } from "../../src/sync/events.js";
import type { Member } from "../../src/domain.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const OWNER = "roster-sync test";

function member(key: string, extra: Partial<Member> = {}): Member {
  return {
    key,
    sourcedId: key,
    role: "student",
    username: `user.${key}`,
    email: `${key}@school.example`,
    givenName: "Given",
    familyName: "Family",
    grades: ["06"],
    orgs: ["org-1"],
    ...extra,
  };
}

let runCounter = 0;
function run(mapping: string, extra: Partial<RunRow> = {}): RunRow {
  runCounter += 1;
  const startedAt = new Date(Date.UTC(2026, 10, 29, 7, 0, runCounter));
  return {
    id: `run_test_${runCounter.toString().padStart(4, "0")}`,
    mapping,
    status: "succeeded",
    trigger: "cli",
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 1500),
    members: 0,
    added: 0,
    removed: 0,
    updated: 0,
    requests: 3,
    durationMs: 1500,
    error: null,
    forced: false,
    ...extra,
  };
}

function event(r: RunRow, type: EventRow["type"], m: Member, n: number): EventRow {
  const { key: _key, ...user } = m;
  return {
    id: `evt_${r.id}_${n}`,
    runId: r.id,
    mapping: r.mapping,
    type,
    product: "creative-cloud",
    occurredAt: r.finishedAt,
    user,
  };
}

async function count(db: Database, table: string): Promise<number> {
  const rows = await db.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

/** A query outside openDatabase (which refuses a database with a failed migration). */
async function rawQuery(target: TestDatabase, sql: string): Promise<Record<string, unknown>[]> {
  if (target.kind === "postgres") {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const client = new PGlite(filePath(target.url));
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.close();
  }
}

describe.each(["pglite", "postgres"] as const)("store on %s", (kind) => {
  let target: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    db = await openDatabase(target.url, { owner: OWNER });
  });

  afterAll(async () => {
    await db?.close();
    await target?.drop();
  });

  it("applies the migrations and records them as prisma migrate deploy does", async () => {
    expect(db.kind).toBe(kind);
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThanOrEqual(2);
    const rows = await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(rows).toHaveLength(migrations.length);
    for (const [i, migration] of migrations.entries()) {
      const file = await readFile(join(defaultMigrationsDir(), migration.name, "migration.sql"));
      const row = rows[i]!;
      expect(row).toMatchObject({
        migration_name: migration.name,
        checksum: createHash("sha256").update(file).digest("hex"),
        applied_steps_count: 1,
        logs: null,
        rolled_back_at: null,
      });
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    }
    const columns = await db.prisma.$queryRawUnsafe<{ column_name: string; data_type: string }[]>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      "id character varying",
      "checksum character varying",
      "finished_at timestamp with time zone",
      "migration_name character varying",
      "logs text",
      "rolled_back_at timestamp with time zone",
      "started_at timestamp with time zone",
      "applied_steps_count integer",
    ]);
  });

  it("applies nothing when reopened", async () => {
    await db.close();
    const applied: string[] = [];
    db = await openDatabase(target.url, { owner: OWNER, onMigrationApplied: (name) => applied.push(name) });
    expect(applied).toEqual([]);
    expect(await count(db, `"_prisma_migrations"`)).toBe((await readMigrations()).length);
  });

  it("commits a run, its snapshot and its events together; loadSnapshot round-trips members", async () => {
    const members = [
      member("a1", { grades: [], orgs: [] }),
      member("a2", { username: null, email: null, givenName: null, familyName: null }),
      member("a3", {
        givenName: "Zoë",
        familyName: "Ñúñez-李",
        email: "zoë@école.example",
        grades: ["K", "01"],
      }),
      member("a4", { key: "a4", sourcedId: "sid-4", role: "teacher", orgs: ["o1", "o2", "o3"] }),
    ];
    const r = run("m1", { members: 4, added: 4 });
    await commitRun(db, {
      run: r,
      snapshot: { upserts: members, removes: [] },
      events: members.map((m, i) => event(r, "add", m, i)),
      sinks: ["queue:roster-events", "file:events.ndjson"],
    });

    const snapshot = await loadSnapshot(db, "m1");
    expect([...snapshot.keys()].sort()).toEqual(["a1", "a2", "a3", "a4"]);
    for (const m of members) {
      expect(snapshot.get(m.key)).toEqual(m);
    }
    expect(await listMembers(db, "m1")).toEqual(members);
    expect(await loadSnapshot(db, "other")).toEqual(new Map());
    expect(await getRun(db, r.id)).toEqual(r);

    const events = await listEvents(db, { runId: r.id });
    expect(events.map((e) => e.id)).toEqual(members.map((_, i) => `evt_${r.id}_${i}`));
    expect(events[2]).toMatchObject({
      type: "add",
      mapping: "m1",
      product: "creative-cloud",
      occurredAt: r.finishedAt,
      user: { sourcedId: "a3", givenName: "Zoë", familyName: "Ñúñez-李", grades: ["K", "01"] },
    });
    expect(events[0]!.deliveries.map((d) => [d.sink, d.state, d.attempts])).toEqual([
      ["file:events.ndjson", "pending", 0],
      ["queue:roster-events", "pending", 0],
    ]);
    const seqs = events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
  });

  it("round-trips awkward text through the bulk writes, and a retried event keeps its deliveries", async () => {
    const odd = [
      member("tab\tkey", {
        givenName: 'quote " and \\ backslash',
        familyName: "new\nline\r\n",
        email: null,
        grades: ['"q"', "b\\s", "t\tab", ""],
        orgs: ["{braces}", "comma,org", "NULL"],
      }),
      member("\\N", { username: "\\.", grades: [], orgs: [] }),
      member("ünï ✓", { role: "teacher", username: "", givenName: "\u00e9\u{1F600}" }),
    ];
    const r = run("m-esc", { members: 3, added: 3 });
    const events = odd.map((m, i) => ({ ...event(r, "add", m, i), product: ["a\tb", 'c"d'] }));
    const sinks = [
      "file:/tmp/with\ttab.ndjson",
      "webhook:https://x.example/a b",
      "file:/tmp/with\ttab.ndjson",
    ];
    await commitRun(db, { run: r, snapshot: { upserts: odd, removes: [] }, events, sinks });
    expect(await listMembers(db, "m-esc")).toEqual([...odd].sort((a, b) => (a.key < b.key ? -1 : 1)));
    const snapshot = await loadSnapshot(db, "m-esc");
    for (const m of odd) {
      expect(snapshot.get(m.key)).toEqual(m);
    }
    const stored = await listEvents(db, { runId: r.id });
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
    for (const [i, e] of stored.entries()) {
      const { key: _key, ...user } = odd[i]!;
      expect(e).toMatchObject({ product: ["a\tb", 'c"d'], user, occurredAt: r.finishedAt });
      expect(e.deliveries.map((d) => [d.sink, d.state])).toEqual([
        ["file:/tmp/with\ttab.ndjson", "pending"],
        ["webhook:https://x.example/a b", "pending"],
      ]);
    }

    // The same events again (a retried run), and one twice in the list: one new event, one delivery each.
    await markDelivered(db, "file:/tmp/with\ttab.ndjson", [events[0]!.id]);
    const r2 = run("m-esc");
    const fresh = event(r2, "remove", odd[0]!, 0);
    await commitRun(db, {
      run: r2,
      events: [...events, fresh, fresh],
      sinks: ["file:/tmp/with\ttab.ndjson"],
    });
    const after = await listEvents(db, { mapping: "m-esc" });
    expect(after.map((e) => e.id)).toEqual([...events.map((e) => e.id), fresh.id]);
    expect(after[0]!.deliveries.map((d) => d.state)).toEqual(["delivered", "pending"]);
    expect(after[3]!.deliveries.map((d) => [d.sink, d.state])).toEqual([
      ["file:/tmp/with\ttab.ndjson", "pending"],
    ]);
    expect(after[3]!.runId).toBe(r2.id);
  });

  it("writes nothing when any part of the run's transaction fails", async () => {
    const before = {
      runs: await count(db, "runs"),
      members: await count(db, "snapshot_members"),
      events: await count(db, "events"),
      deliveries: await count(db, "event_deliveries"),
    };
    const snapshotBefore = await loadSnapshot(db, "m1");
    const existing = (await listRuns(db, { mapping: "m1" }))[0]!;

    // A duplicate run id: fails first, before anything else is written.
    const dup = { ...run("m1"), id: existing.id };
    await expect(
      commitRun(db, {
        run: dup,
        snapshot: { upserts: [member("x1")], removes: ["a1"] },
        events: [],
        sinks: ["s"],
      }),
    ).rejects.toThrow();

    // A bad event, after the run row and the snapshot delta were written in the transaction.
    const r = run("m1");
    const bad = { ...event(r, "add", member("x2"), 0), id: null as unknown as string };
    await expect(
      commitRun(db, {
        run: r,
        snapshot: { upserts: [member("x2")], removes: ["a1", "a2"] },
        events: [event(r, "add", member("x3"), 1), bad],
        sinks: ["s"],
      }),
    ).rejects.toThrow();

    // An event that cannot even be serialised, also after the SQL writes.
    const r2 = run("m1");
    await expect(
      commitRun(db, {
        run: r2,
        snapshot: { upserts: [member("x4")], removes: ["a3"] },
        events: [{ ...event(r2, "add", member("x4"), 0), occurredAt: new Date(Number.NaN) }],
        sinks: ["s"],
      }),
    ).rejects.toThrow();

    expect({
      runs: await count(db, "runs"),
      members: await count(db, "snapshot_members"),
      events: await count(db, "events"),
      deliveries: await count(db, "event_deliveries"),
    }).toEqual(before);
    expect(await loadSnapshot(db, "m1")).toEqual(snapshotBefore);
    expect(await getRun(db, r.id)).toBeNull();
    expect(await getRun(db, r2.id)).toBeNull();
  });

  it("applies updates and removes", async () => {
    const r = run("m1", { members: 3, removed: 2, updated: 1, added: 1 });
    const updated = member("a3", { email: "new@school.example", grades: ["02"] });
    await commitRun(db, {
      run: r,
      snapshot: { upserts: [updated, member("a5")], removes: ["a1", "a2", "not-there"] },
      events: [],
      sinks: [],
    });
    const snapshot = await loadSnapshot(db, "m1");
    expect([...snapshot.keys()].sort()).toEqual(["a3", "a4", "a5"]);
    expect(snapshot.get("a3")).toEqual(updated);
    const runIds = await db.prisma.$queryRawUnsafe<{ user_key: string; run_id: string }[]>(
      `SELECT user_key, run_id FROM snapshot_members WHERE mapping = 'm1' ORDER BY user_key`,
    );
    const first = (await listRuns(db, { mapping: "m1" })).at(-1)!;
    expect(runIds.map((x) => x.run_id)).toEqual([r.id, first.id, r.id]);
  });

  it("records runs and lists them newest first", async () => {
    const failed = run("m2", { status: "failed", members: null, error: "page 3 failed", requests: 7 });
    const held = run("m2", { status: "held", error: "removals exceed 20%" });
    const dry = run("m3", { status: "dry-run", forced: true });
    for (const r of [failed, held, dry]) {
      await recordRun(db, r);
    }
    expect(await listRuns(db, { mapping: "m2" })).toEqual([held, failed]);
    expect((await listRuns(db, { limit: 2 })).map((r) => r.id)).toEqual([dry.id, held.id]);
    expect(await getRun(db, failed.id)).toEqual(failed);
    expect(await getRun(db, "run_nope")).toBeNull();
    await expect(recordRun(db, failed)).rejects.toThrow();
  });

  it("keeps the outbox in order and tracks delivery per sink", async () => {
    const r1 = run("ob1");
    const r2 = run("ob2");
    const e1 = [0, 1, 2].map((i) => event(r1, "add", member(`k${i}`), i));
    const e2 = [0, 1].map((i) => event(r2, "remove", member(`j${i}`), i));
    await commitRun(db, { run: r1, events: e1, sinks: ["A", "B"] });
    await commitRun(db, { run: r2, events: e2, sinks: ["A"] });

    const pendingA = await pendingDeliveries(db, "A", 100);
    expect(pendingA.map((e) => e.id)).toEqual([...e1, ...e2].map((e) => e.id));
    expect(pendingA[0]).toMatchObject({ attempts: 0, lastError: null, runId: r1.id, type: "add" });
    expect((await pendingDeliveries(db, "A", 2)).map((e) => e.id)).toEqual(e1.slice(0, 2).map((e) => e.id));
    expect((await pendingDeliveries(db, "B", 100)).map((e) => e.id)).toEqual(e1.map((e) => e.id));

    await recordAttempt(db, "A", [e1[0]!.id, e1[1]!.id], "connection refused");
    const retried = await pendingDeliveries(db, "A", 1);
    expect(retried[0]).toMatchObject({ id: e1[0]!.id, attempts: 1, lastError: "connection refused" });

    expect(await getSinkPosition(db, "A")).toBe(0n);
    await markDelivered(db, "A", [e1[0]!.id, e1[1]!.id], { position: 1234n });
    expect(await getSinkPosition(db, "A")).toBe(1234n);
    await markDelivered(db, "A", [e1[2]!.id]);
    expect(await getSinkPosition(db, "A")).toBe(1234n);
    await markFailed(db, "A", e2[0]!.id, "400 Bad Request");
    expect((await pendingDeliveries(db, "A", 100)).map((e) => e.id)).toEqual([e2[1]!.id]);
    expect((await pendingDeliveries(db, "B", 100)).map((e) => e.id)).toEqual(e1.map((e) => e.id));

    const listed = await listEvents(db, { mapping: "ob1" });
    expect(listed[0]!.deliveries).toMatchObject([
      { sink: "A", state: "delivered", attempts: 2, lastError: null },
      { sink: "B", state: "pending", attempts: 0, deliveredAt: null },
    ]);
    expect(listed[0]!.deliveries[0]!.deliveredAt).toBeInstanceOf(Date);
    const parked = await listEvents(db, { runId: r2.id, type: "remove", limit: 1 });
    expect(parked).toHaveLength(1);
    expect(parked[0]!.deliveries).toMatchObject([
      { sink: "A", state: "failed", attempts: 1, lastError: "400 Bad Request" },
    ]);
    expect((await listEvents(db, { mapping: "ob1", afterSeq: listed[0]!.seq })).map((e) => e.id)).toEqual(
      e1.slice(1).map((e) => e.id),
    );
    expect(await listEvents(db, { type: "update", mapping: "ob1" })).toEqual([]);

    // Committing an event id again (a retried run) adds neither an event nor a delivery.
    const r3 = run("ob1");
    await commitRun(db, { run: r3, events: [e1[0]!, event(r3, "add", member("k9"), 0)], sinks: ["A", "B"] });
    const again = await listEvents(db, { mapping: "ob1" });
    expect(again.map((e) => e.id)).toEqual([...e1.map((e) => e.id), `evt_${r3.id}_0`]);
    expect(again[0]!.deliveries.map((d) => d.state)).toEqual(["delivered", "pending"]);
  });

  it("refuses to continue after a failed migration, and when an applied migration was edited", async () => {
    const other = await createTestDatabase(kind);
    const dir = await mkdtemp(join(tmpdir(), "roster-sync-migrations-"));
    try {
      await cp(defaultMigrationsDir(), dir, { recursive: true });
      const broken = join(dir, "20991231000000_broken");
      await mkdir(broken);
      await writeFile(join(broken, "migration.sql"), `CREATE TABLE "ok" ("id" INTEGER);\nSELECT 1/0;\n`);

      const error = await openDatabase(other.url, { owner: OWNER, migrationsDir: dir }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DatabaseError);
      expect((error as Error).message).toMatch(/20991231000000_broken failed.*division by zero/s);

      // openDatabase now refuses (tested below), so look with a plain client.
      const rows = await rawQuery(
        other,
        `SELECT migration_name, finished_at, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      const applied = (await readMigrations()).length;
      expect(rows).toHaveLength(applied + 1);
      expect(rows[applied]).toMatchObject({
        migration_name: "20991231000000_broken",
        finished_at: null,
        applied_steps_count: 0,
      });
      expect(rows[applied]!.logs).toMatch(/22012[\s\S]*division by zero/);
      // The script ran as one transaction: its first statement was undone with the rest.
      expect(
        await rawQuery(other, `SELECT 1 FROM information_schema.tables WHERE table_name = 'ok'`),
      ).toEqual([]);

      const again = await openDatabase(other.url, { owner: OWNER, migrationsDir: dir }).catch(
        (e: unknown) => e,
      );
      expect((again as Error).message).toMatch(/20991231000000_broken .*failed earlier/);

      // Resolved as rolled back (`prisma migrate resolve --rolled-back`), the folder opens again.
      await rawQuery(
        other,
        `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE finished_at IS NULL`,
      );
      await rm(broken, { recursive: true });
      await (await openDatabase(other.url, { owner: OWNER, migrationsDir: dir })).close();

      // An applied migration edited afterwards: refused, naming the checksums.
      const [init] = await readMigrations(dir);
      await writeFile(join(dir, init!.name, "migration.sql"), `${init!.script}\n-- edited\n`);
      const edited = await openDatabase(other.url, { owner: OWNER, migrationsDir: dir }).catch(
        (e: unknown) => e,
      );
      expect(edited).toBeInstanceOf(DatabaseError);
      expect((edited as Error).message).toMatch(/was modified after it was applied/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await other.drop();
    }
  });

  it("commits a 100k-member first snapshot (timing printed, not asserted)", async () => {
    const size = 100_000;
    const current = new Map<string, Member>();
    for (let i = 0; i < size; i += 1) {
      const key = `u${i.toString().padStart(6, "0")}`;
      current.set(key, member(key, { givenName: `Given ${i}`, grades: [String(i % 12).padStart(2, "0")] }));
    }
    const r = run("bench", { members: size, added: size });
    const t0 = performance.now();
    const previous = await loadSnapshot(db, "bench");
    const diff = diffMembers(previous, current);
    const events = buildEvents(diff, {
      mapping: "bench",
      product: "creative-cloud",
      runId: r.id,
      occurredAt: r.finishedAt,
    });
    const t1 = performance.now();
    await commitRun(db, {
      run: r,
      snapshot: { upserts: diff.added, removes: [] },
      events: events.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt) })),
      sinks: ["queue:roster-events"],
    });
    const t2 = performance.now();
    const loaded = await loadSnapshot(db, "bench");
    const t3 = performance.now();
    expect(loaded.size).toBe(size);
    expect(await count(db, "events WHERE mapping = 'bench'")).toBe(size);
    console.log(
      `[bench ${kind}] 100k members: load+diff+events ${(t1 - t0).toFixed(0)} ms, ` +
        `commitRun ${(t2 - t1).toFixed(0)} ms, loadSnapshot ${(t3 - t2).toFixed(0)} ms`,
    );
  }, 180_000);
});

describe("openDatabase on PostgreSQL", () => {
  it("applies migrations once when two workers start together", async () => {
    const target = await createTestDatabase("postgres");
    try {
      const [a, b] = await Promise.all([
        openDatabase(target.url, { owner: OWNER }),
        openDatabase(target.url, { owner: OWNER }),
      ]);
      expect(await count(a, `"_prisma_migrations"`)).toBe((await readMigrations()).length);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await target.drop();
    }
  });

  it("never shows the password in errors", async () => {
    const error = await openDatabase("postgresql://roster:s3cr%40t-pw@127.0.0.1:1/nowhere", {
      owner: OWNER,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    const text = `${(error as Error).message} ${String((error as Error).stack)}`;
    expect(text).toMatch(/127\.0\.0\.1:1/);
    expect(text).not.toMatch(/s3cr/);
  });
});

describe("the embedded database's lock", () => {
  let target: TestDatabase & { dir?: string };
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    target = await createTestDatabase("pglite");
  });

  afterAll(async () => {
    for (const child of children) {
      child.kill("SIGKILL");
    }
    await target.drop();
  });

  /** A real other process (plain node, idling) to name as a lock's holder. */
  async function otherProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    children.push(child);
    await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
    return child;
  }

  function writeLock(pid: number): Promise<void> {
    return writeFile(
      join(target.dir!, LOCK_FILE),
      JSON.stringify({
        pid,
        command: "roster-sync worker",
        host: hostname(),
        since: "2026-11-29T07:00:00.000Z",
      }),
    );
  }

  it("holds the folder while open and releases it on close", async () => {
    const db = await openDatabase(target.url, { owner: "roster-sync worker" });
    const lock = JSON.parse(readFileSync(join(target.dir!, LOCK_FILE), "utf8")) as Record<string, unknown>;
    expect(lock).toMatchObject({ pid: process.pid, command: "roster-sync worker", host: hostname() });
    expect(new Date(lock.since as string).getTime()).not.toBeNaN();

    // The same process never opens the folder twice either.
    const second = await openDatabase(target.url, { owner: "roster-sync history" }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(DatabaseLockedError);
    expect((second as Error).message).toContain(
      `is in use by roster-sync worker (pid ${process.pid} on ${hostname()}`,
    );

    await db.close();
    expect(existsSync(join(target.dir!, LOCK_FILE))).toBe(false);
  });

  it("refuses a folder held by another live process, naming it", async () => {
    const child = await otherProcess();
    await writeLock(child.pid!);
    const error = await openDatabase(target.url, { owner: "roster-sync history" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect((error as Error).message).toBe(
      `database ${target.url} is in use by roster-sync worker (pid ${child.pid} on ${hostname()}, ` +
        `since 2026-11-29T07:00:00.000Z); stop it or use another database`,
    );
    expect((error as DatabaseLockedError).holder.pid).toBe(child.pid);
    expect(JSON.parse(readFileSync(join(target.dir!, LOCK_FILE), "utf8")).pid).toBe(child.pid);
  });

  it("takes over a lock left by a process that is gone", async () => {
    const child = await otherProcess();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    await writeLock(child.pid!);
    const db = await openDatabase(target.url, { owner: "roster-sync worker" });
    expect(JSON.parse(readFileSync(join(target.dir!, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    await db.close();
    expect(existsSync(join(target.dir!, LOCK_FILE))).toBe(false);
  });
});
