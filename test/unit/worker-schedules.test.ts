// Schedules → BullMQ repeat options, and the reconcile plan. Pure: no Redis.
import { describe, expect, it } from "vitest";
import { classifyFailure } from "../../jobs/sync-mapping.js";
import { ConfigError, NoGroupMatchedError, ProviderError, RosterSyncError } from "../../src/errors.js";
import { SYNC_JOB, SYNC_JOB_OPTIONS } from "../../src/app/sync-job.js";
import {
  desiredSchedulers,
  everyOffset,
  planReconcile,
  repeatOptions,
  type ExistingScheduler,
  type SchedulerSpec,
} from "../../src/worker/schedules.js";

const NOW = Date.UTC(2026, 10, 29, 7, 0, 0);

describe("repeatOptions", () => {
  it.each([
    [{ every: "1s" }, "UTC", { every: 1000, offset: everyOffset("m", 1000) }],
    [{ every: "15m" }, "Europe/Paris", { every: 900_000, offset: everyOffset("m", 900_000) }],
    [{ every: "2h" }, "UTC", { every: 7_200_000, offset: everyOffset("m", 7_200_000) }],
    ["0 2 * * *", "UTC", { pattern: "0 2 * * *", tz: "UTC" }],
    ["0  */4 * * *", "America/New_York", { pattern: "0 */4 * * *", tz: "America/New_York" }],
    ["*/5 * * * * *", "UTC", { pattern: "*/5 * * * * *", tz: "UTC" }],
  ] as const)("%j in %s → %j", (schedule, tz, expected) => {
    expect(repeatOptions({ name: "m", schedule }, tz, NOW)).toEqual(expected);
  });

  it.each([
    [{ every: "0s" }, "UTC", /at least 1s/],
    [{ every: "soon" }, "UTC", /not a duration/],
    ["0 2 * * *", "Mars/Olympus", /unknown time zone/],
    ["61 2 * * *", "UTC", /61 2/],
  ] as const)("%j in %s is a ConfigError", (schedule, tz, message) => {
    const attempt = () => repeatOptions({ name: "m", schedule }, tz, NOW);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});

describe("everyOffset", () => {
  it("is stable, inside the interval and never 0", () => {
    for (const every of [1000, 5000, 900_000]) {
      for (const name of ["a", "b", "ela6-creative-cloud", "x".repeat(100)]) {
        const offset = everyOffset(name, every);
        expect(offset).toBe(everyOffset(name, every));
        expect(offset).toBeGreaterThanOrEqual(1);
        expect(offset).toBeLessThan(every);
      }
    }
  });

  it("spreads 200 mappings over the interval instead of firing them at once", () => {
    const slots = new Array<number>(10).fill(0);
    for (let i = 0; i < 200; i += 1) {
      slots[Math.floor(everyOffset(`mapping-${i}`, 5000) / 500)]! += 1;
    }
    // 20 per half second on average; a burst would put all 200 in one slot.
    expect(Math.max(...slots)).toBeLessThan(40);
    expect(Math.min(...slots)).toBeGreaterThan(5);
  });
});

describe("desiredSchedulers", () => {
  it("makes one scheduler per mapping, id = name, job 'sync' with { mapping }; bad ones apart", () => {
    const out = desiredSchedulers(
      {
        timezone: "UTC",
        mappings: [
          { name: "a", schedule: { every: "1m" } },
          { name: "b", schedule: "0 3 * * 1-5" },
          { name: "c", schedule: { every: "0ms" } },
        ] as never,
      },
      NOW,
    );
    expect(out.specs).toEqual([
      {
        id: "a",
        repeat: { every: 60_000, offset: everyOffset("a", 60_000) },
        template: { name: SYNC_JOB, data: { mapping: "a" }, opts: SYNC_JOB_OPTIONS },
      },
      {
        id: "b",
        repeat: { pattern: "0 3 * * 1-5", tz: "UTC" },
        template: { name: SYNC_JOB, data: { mapping: "b" }, opts: SYNC_JOB_OPTIONS },
      },
    ]);
    expect(out.invalid.map((i) => i.mapping)).toEqual(["c"]);
  });
});

describe("planReconcile", () => {
  const spec = (id: string, repeat: SchedulerSpec["repeat"]): SchedulerSpec => ({
    id,
    repeat,
    template: { name: SYNC_JOB, data: { mapping: id }, opts: SYNC_JOB_OPTIONS },
  });
  const existing = (id: string, fields: Partial<ExistingScheduler>): ExistingScheduler => ({
    key: id,
    name: SYNC_JOB,
    template: { data: { mapping: id }, opts: { attempts: SYNC_JOB_OPTIONS.attempts } },
    ...fields,
  });

  it("upserts new and changed schedulers, removes departed ones, leaves the rest", () => {
    const plan = planReconcile(
      [
        spec("same-every", { every: 1000, offset: 7 }),
        spec("same-cron", { pattern: "0 2 * * *", tz: "UTC" }),
        spec("new", { every: 5000, offset: 7 }),
        spec("every-changed", { every: 2000, offset: 7 }),
        spec("cron-changed", { pattern: "0 3 * * *", tz: "UTC" }),
        spec("tz-changed", { pattern: "0 2 * * *", tz: "Europe/Paris" }),
        spec("kind-changed", { every: 60_000, offset: 7 }),
        spec("offset-changed", { every: 1000, offset: 8 }),
      ],
      [
        existing("same-every", { every: 1000, offset: 7 }),
        existing("same-cron", { pattern: "0 2 * * *", tz: "UTC" }),
        existing("every-changed", { every: 1000, offset: 7 }),
        existing("cron-changed", { pattern: "0 2 * * *", tz: "UTC" }),
        existing("tz-changed", { pattern: "0 2 * * *", tz: "UTC" }),
        existing("kind-changed", { pattern: "* * * * *", tz: "UTC" }),
        existing("offset-changed", { every: 1000, offset: 7 }),
        existing("gone", { every: 1000, offset: 7 }),
      ],
    );
    expect(plan.unchanged).toEqual(["same-every", "same-cron"]);
    expect(plan.upsert.map((s) => s.id)).toEqual([
      "new",
      "every-changed",
      "cron-changed",
      "tz-changed",
      "kind-changed",
      "offset-changed",
    ]);
    expect(plan.remove).toEqual(["gone"]);
  });

  it("re-upserts a scheduler whose template differs (another job name, data or attempts)", () => {
    const plan = planReconcile(
      [
        spec("a", { every: 1000, offset: 7 }),
        spec("b", { every: 1000, offset: 7 }),
        spec("c", { every: 1000, offset: 7 }),
      ],
      [
        existing("a", { every: 1000, offset: 7, name: "other" }),
        existing("b", {
          every: 1000,
          offset: 7,
          template: { data: { mapping: "x" }, opts: { attempts: 3 } },
        }),
        existing("c", {
          every: 1000,
          offset: 7,
          template: { data: { mapping: "c" }, opts: { attempts: 1 } },
        }),
      ],
    );
    expect(plan.upsert.map((s) => s.id)).toEqual(["a", "b", "c"]);
  });

  it("keeps the scheduler of a mapping whose new schedule is invalid", () => {
    const plan = planReconcile(
      [],
      [existing("typo", { every: 1000, offset: 7 }), existing("gone", { every: 1000, offset: 7 })],
      ["typo"],
    );
    expect(plan.remove).toEqual(["gone"]);
  });

  it("with nothing in Redis (a restart without persistence) upserts everything", () => {
    const plan = planReconcile([spec("a", { every: 1000, offset: 7 })], []);
    expect(plan.upsert.map((s) => s.id)).toEqual(["a"]);
    expect(plan.remove).toEqual([]);
  });
});

describe("classifyFailure", () => {
  const http = (status: number, retriable: boolean) =>
    new ProviderError("PROVIDER_HTTP", `HTTP ${status}`, "p", "http://x/", status, { retriable });
  it.each([
    ["bad config", new ConfigError("bad", "f.yaml", "mappings"), "permanent"],
    ["no group matched", new NoGroupMatchedError("no group matched"), "permanent"],
    ["401", new ProviderError("PROVIDER_AUTH", "401", "p", "http://x/", 401), "permanent"],
    [
      "403 even if marked retriable",
      new ProviderError("PROVIDER_AUTH", "403", "p", "u", 403, { retriable: true }),
      "permanent",
    ],
    ["404", http(404, false), "permanent"],
    ["429", http(429, true), "transient"],
    ["503", http(503, true), "transient"],
    [
      "network",
      new ProviderError("PROVIDER_NETWORK", "ECONNRESET", "p", "u", undefined, { retriable: true }),
      "transient",
    ],
    [
      "incomplete fetch",
      new ProviderError("INCOMPLETE_FETCH", "short", "p", "u", 200, { retriable: true }),
      "transient",
    ],
    [
      "database (retriable)",
      new RosterSyncError("DATABASE", "conn refused", { retriable: true }),
      "transient",
    ],
    ["an unknown error", new Error("socket hang up"), "transient"],
  ] as const)("%s → %s", (_name, error, expected) => {
    expect(classifyFailure(error)).toBe(expected);
  });
});
