// `roster-sync sync [MAPPING…] [--dry-run] [--force]`: runs mappings now, in this process, without
// Redis. Events wait in the outbox for the worker, except for file and webhook sinks, delivered here.
// On PostgreSQL it takes the workers' locks (src/store/locks.ts), so it can run beside them: a
// mapping whose run is in progress elsewhere is waited for (SPEC §5.7) and fetched again if that
// run committed after this command's fetch began; a sink a worker is relaying is left to that
// worker, which keeps each sink's events in order.
import type { MappingConfig } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { createRelay, sinkName } from "../events/relay.js";
import { createProviderRuntime } from "../providers/runtime.js";
import type { Provider } from "../providers/types.js";
import { lastAppliedRunId, type Database } from "../store/index.js";
import { FetchCache, fetchUsers } from "../sync/resolve.js";
import { progressLogger, runMapping, type RunSummary } from "../sync/run.js";
import { acquireWaiting, createLocks, mappingLock, sinkLock, type Locks } from "../store/locks.js";
import type { CommandContext } from "./context.js";
import { json, table } from "./output.js";

export interface SyncOptions {
  dryRun?: boolean;
  force?: boolean;
}

/** Exit code of a set of runs (SPEC §6): 1 when any failed, else 3 when any was held, else 0. */
export function exitCodeOf(runs: RunSummary[]): number {
  if (runs.some((r) => r.status === "failed")) {
    return 1;
  }
  return runs.some((r) => r.status === "held") ? 3 : 0;
}

export async function syncCommand(
  ctx: CommandContext,
  names: string[],
  options: SyncOptions,
  out: (text: string) => void,
): Promise<number> {
  const { config, logger } = ctx;
  const unknown = names.filter((n) => !config.mappings.some((m) => m.name === n));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown mapping ${unknown.map((n) => `"${n}"`).join(", ")} (configured: ${config.mappings.map((m) => m.name).join(", ")})`,
    );
  }
  const selected = names.length > 0 ? config.mappings.filter((m) => names.includes(m.name)) : config.mappings;
  const db = await ctx.database();
  const sinks = config.sinks.map(sinkName);
  const locks = createLocks(config.database.url, logger, "roster-sync sync");
  try {
    const runs = await runAll(ctx, selected, options, { db, sinks, locks });
    await relayOwnSinks(ctx, db, locks);
    if (ctx.json) {
      out(json({ runs }));
    } else {
      out(
        table(
          runs.map((r) => ({ ...r, durationMs: `${r.durationMs} ms` })),
          ["mapping", "status", "members", "added", "removed", "updated", "requests", "durationMs", "runId"],
        ),
      );
      for (const r of runs.filter((run) => run.error)) {
        out(`${r.mapping}: ${r.error}\n`);
      }
    }
    return exitCodeOf(runs);
  } finally {
    await locks.close();
  }
}

async function runAll(
  ctx: CommandContext,
  selected: MappingConfig[],
  options: SyncOptions,
  deps: { db: Database; sinks: string[]; locks: Locks },
): Promise<RunSummary[]> {
  const { logger } = ctx;
  const { db, sinks, locks } = deps;

  // One connector per provider for the whole command: its fetch-ahead is one run of the provider,
  // whose cache every selected mapping shares; the runtime holds its rate and concurrency cap.
  const runtime = createProviderRuntime();
  const providers = new Map<string, Provider>();
  const caches = new Map<string, FetchCache>();
  const cacheOf = (mapping: MappingConfig): FetchCache => {
    const providerName = mapping.provider.name;
    let cache = caches.get(providerName);
    if (!cache) {
      const served = selected.filter((m) => m.provider.name === providerName);
      const provider = runtime.connector(mapping.provider, { logger, mappings: served });
      providers.set(providerName, provider);
      cache = new FetchCache(provider, progressLogger(logger, providerName));
      caches.set(providerName, cache);
    }
    return cache;
  };
  /** Per provider, its request count where the previous run's charge ended. */
  const charged = new Map<string, number>();
  const runs: RunSummary[] = [];
  try {
    // What each snapshot was before fetching: if another process (a worker) commits a run of the
    // mapping after this, the fetch ahead may be older than the snapshot it would be diffed against
    // (a member added meanwhile would be "removed"), so that mapping is fetched again.
    const applied = new Map<string, string | null>();
    for (const mapping of selected) {
      applied.set(mapping.name, await lastAppliedRunId(db, mapping.name));
    }
    // Fetch ahead: every mapping's groups and members are asked for now, through its provider's
    // cache, so that the provider's rate limit and concurrency pace the whole cycle rather than
    // one mapping's round trips after another's (20 school mappings: about 1.2 s at 50 requests a
    // second instead of 20 × 3 sequential page waits). The runs below then diff and commit one at
    // a time, in order, as before, each awaiting its own (cached) fetch: a fetch failure still
    // fails only its own run. Errors here are left to the runs.
    for (const mapping of selected) {
      const cache = cacheOf(mapping);
      charged.set(mapping.provider.name, cache.provider.stats.requests);
      fetchUsers(mapping, cache).catch(() => undefined);
    }
    for (const mapping of selected) {
      let cache = cacheOf(mapping);
      // A dry run writes no snapshot or event, so it needs no lock.
      const lease = options.dryRun
        ? undefined
        : await acquireWaiting(locks, mappingLock(mapping.name), {
            onWait: (ms) =>
              logger.info(
                { mapping: mapping.name, waitedSeconds: Math.round(ms / 1000) },
                "waiting: a run of this mapping is in progress in another process",
              ),
          });
      let run: RunSummary;
      try {
        if (lease && (await lastAppliedRunId(db, mapping.name)) !== applied.get(mapping.name)) {
          logger.info(
            { mapping: mapping.name },
            "another process ran this mapping meanwhile: fetching again",
          );
          cache = new FetchCache(cache.provider, progressLogger(logger, mapping.provider.name));
        }
        run = await runMapping(
          mapping,
          cache,
          { db, logger, sinks },
          // Each run is charged what its provider sent since the previous run's charge ended, so
          // that the runs' counts add up to the provider's traffic (the first run carries most).
          {
            dryRun: options.dryRun,
            force: options.force,
            requestsFrom: charged.get(mapping.provider.name),
            signal: lease?.signal,
          },
        );
      } finally {
        await lease?.release();
      }
      charged.set(mapping.provider.name, (charged.get(mapping.provider.name) ?? 0) + run.requests);
      runs.push(run);
    }
  } finally {
    await Promise.all([...providers.values()].map((p) => p.close()));
    await runtime.close();
  }

  return runs;
}

/**
 * File and webhook sinks are delivered here, one pass, each under its relay lock; queue sinks wait
 * for the worker. A sink that is down delays its events (they stay pending, retried by the next
 * sync or the worker) and does not change the runs' outcome: the relay logs the failure.
 */
async function relayOwnSinks(ctx: CommandContext, db: Database, locks: Locks): Promise<void> {
  const { config, logger } = ctx;
  const relay = createRelay({ db, sinks: config.sinks, logger, only: ["file", "webhook"] });
  try {
    for (const name of relay.sinks) {
      let lease;
      try {
        lease = await locks.tryAcquire(sinkLock(name));
      } catch (error) {
        logger.warn({ sink: name, err: { message: (error as Error).message } }, "sink not relayed: no lock");
        continue;
      }
      if (!lease) {
        logger.info({ sink: name }, "sink left to the worker relaying it now");
        continue;
      }
      try {
        await relay.relayOnce({ sinks: [name] });
      } finally {
        await lease.release();
      }
    }
  } finally {
    await relay.close();
  }
}
