// Issue 9 item 8, the worker's side (in process, on real Redis and PostgreSQL): a config with a
// schedule the worker cannot use never starts it, and /healthz is 503 while a configured mapping
// is not scheduled. The loader already refuses such configs; these configs are built by hand to
// reach the worker's own checks.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { ConfigError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { startWorker, type RosterWorker } from "../../src/worker/index.js";
import { NEVER, testPrefix, useWorkerFixture, workerConfigYaml } from "../helpers/worker.js";

const suite = useWorkerFixture("worker-health");
const logger = createLogger({ level: "silent" });
const started: RosterWorker[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.shutdown()));
});

function config(): Config {
  const prefix = testPrefix();
  suite.prefixes.push(prefix);
  const yaml = workerConfigYaml({
    databaseUrl: suite.testDb.url,
    redisUrl: suite.redisUrl,
    prefix,
    sandboxUrl: suite.sandbox.url,
    eventsPath: "./unused.ndjson",
    mappings: [{ name: "nightly", schedule: NEVER }],
  });
  return parseConfig(yaml, "worker-health.yaml", {});
}

/** The config with one more mapping, whose schedule is `schedule` (not checked by the loader). */
function withMapping(base: Config, name: string, schedule: string): Config {
  return { ...base, mappings: [...base.mappings, { ...base.mappings[0]!, name, schedule }] };
}

async function health(worker: RosterWorker) {
  const res = await fetch(`${worker.metricsUrl}/healthz`);
  const body = (await res.json()) as { checks: { scheduler: { ok: boolean; unscheduled?: string[] } } };
  return { status: res.status, scheduler: body.checks.scheduler };
}

describe("the worker and unusable schedules", () => {
  it.each(["99 99 99 99 99", "*/0 * * * *", "not a cron"])(
    "refuses to start with %j, before touching Redis",
    async (schedule) => {
      const bad = withMapping(config(), "broken", schedule);
      const attempt = startWorker({
        config: bad,
        reloadConfig: () => bad,
        logger,
        metrics: { host: "127.0.0.1", port: 0 },
      });
      await attempt.then(
        (w) => started.push(w),
        () => undefined,
      );
      await expect(attempt).rejects.toThrow(ConfigError);
      await expect(attempt).rejects.toThrow(/mappings\.broken\.schedule: /);
      const redis = new Redis(suite.redisUrl, { maxRetriesPerRequest: 1 });
      try {
        expect(await redis.keys(`${bad.redis.prefix}:*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }
    },
  );

  it("refuses an unknown time zone", async () => {
    const bad = { ...config(), timezone: "Mars/Olympus_Mons" };
    const attempt = startWorker({
      config: bad,
      reloadConfig: () => bad,
      logger,
      metrics: { host: "127.0.0.1", port: 0 },
    });
    await attempt.then(
      (w) => started.push(w),
      () => undefined,
    );
    await expect(attempt).rejects.toThrow(/unknown time zone "Mars\/Olympus_Mons"/);
  });

  it("/healthz is 503 naming the mapping while a configured mapping is not scheduled, 200 again once it is", async () => {
    const good = config();
    let next = good;
    const worker = await startWorker({
      config: good,
      reloadConfig: () => next,
      logger,
      metrics: { host: "127.0.0.1", port: 0 },
    });
    started.push(worker);
    await worker.ready;
    expect(await health(worker)).toMatchObject({ status: 200, scheduler: { ok: true } });

    // A reload that adds a mapping the worker cannot schedule: the others keep running, and the
    // worker says it is not healthy instead of answering ok while the mapping never runs.
    next = withMapping(good, "broken", "99 99 99 99 99");
    expect(await worker.reload()).toBe(true);
    const unhealthy = await health(worker);
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.scheduler).toMatchObject({ ok: false, unscheduled: ["broken"] });

    next = withMapping(good, "broken", "0 3 * * *");
    expect(await worker.reload()).toBe(true);
    const healthy = await health(worker);
    expect(healthy.status).toBe(200);
    expect(healthy.scheduler.unscheduled).toBeUndefined();
  });
});
