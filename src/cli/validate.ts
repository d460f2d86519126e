// `validate`: the config parsed (or we would not be here) and every provider answers an
// authenticated request. Exit 0 when all are usable, 1 otherwise.
//
// A sync waits out a provider's outage with its `retry` policy (about 20 s with the defaults, more
// with a long `timeoutMs`); an admin running `validate` wants to hear within seconds that a host is
// unreachable. So each provider gets `--timeout` in all, requests time out within it, and retries
// are few and short.
import type { ProviderConfig } from "../config/schema.js";
import { safeUrl, UsageError } from "../errors.js";
import { CLEVER_BASE_URL } from "../providers/clever/connector.js";
import { createProviderRuntime } from "../providers/runtime.js";
import type { CommandContext } from "./context.js";
import { json, table } from "./output.js";

export interface ValidateOptions {
  /** Seconds, as typed. */
  timeout?: string;
}

/** How long each provider has to answer `validate`, in seconds, unless `--timeout` says otherwise. */
export const VALIDATE_TIMEOUT_SECONDS = 5;
/** The most `--timeout` accepts: longer than that is no longer a quick check. */
const MAX_TIMEOUT_SECONDS = 300;

/** `validate` retries a failed request once, after at most this long, whatever `retry` says. */
const VALIDATE_RETRY = { limit: 1, maxDelayMs: 500 } as const;

export function timeoutSeconds(value: string | undefined): number {
  if (value === undefined) {
    return VALIDATE_TIMEOUT_SECONDS;
  }
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(
      `--timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, not "${value}"`,
    );
  }
  return seconds;
}

/** The provider as `validate` asks it: requests and retries inside the bound. */
export function boundedProvider(config: ProviderConfig, timeoutMs: number): ProviderConfig {
  return {
    ...config,
    timeoutMs: Math.min(config.timeoutMs, timeoutMs),
    retry: {
      limit: Math.min(config.retry.limit, VALIDATE_RETRY.limit),
      baseDelayMs: Math.min(config.retry.baseDelayMs, VALIDATE_RETRY.maxDelayMs),
      maxDelayMs: Math.min(config.retry.maxDelayMs, VALIDATE_RETRY.maxDelayMs),
    },
  };
}

/** Where the provider is, for a message: its URL without credentials, or the CSV bundle's path. */
function location(config: ProviderConfig): string {
  if (config.type === "csv") {
    return config.path ?? "(no path)";
  }
  return safeUrl(config.baseUrl ?? (config.type === "clever" ? CLEVER_BASE_URL : "(no baseUrl)"));
}

class Deadline extends Error {}

export async function validateCommand(
  ctx: CommandContext,
  options: ValidateOptions,
  out: (text: string) => void,
): Promise<number> {
  const seconds = timeoutSeconds(options.timeout);
  const timeoutMs = Math.round(seconds * 1000);
  // Built from the bounded configs: validate's own budgets, with its short timeouts and retries.
  const runtime = createProviderRuntime();
  let results;
  try {
    results = await Promise.all(
      Object.values(ctx.config.providers).map(async (config) => {
        const mappings = ctx.config.mappings.filter((m) => m.provider.name === config.name);
        const provider = runtime.connector(boundedProvider(config, timeoutMs), {
          logger: ctx.logger,
          mappings,
        });
        const warnings = () => provider.tolerated?.() ?? { count: 0, shown: [] };
        let timer: NodeJS.Timeout | undefined;
        try {
          // A CSV bundle is read whole from disk (as a run reads it): no network to bound.
          await (config.type === "csv"
            ? provider.check()
            : Promise.race([
                provider.check(),
                new Promise<never>((_resolve, reject) => {
                  timer = setTimeout(() => reject(new Deadline()), timeoutMs);
                }),
              ]));
          return {
            provider: config.name,
            type: config.type,
            ok: true,
            error: null as string | null,
            warnings: warnings(),
          };
        } catch (error) {
          const message =
            error instanceof Deadline
              ? `provider ${config.name}: no answer from ${location(config)} within ${seconds} s (validate --timeout)`
              : (error as Error).message;
          return {
            provider: config.name,
            type: config.type,
            ok: false,
            error: message,
            warnings: warnings(),
          };
        } finally {
          clearTimeout(timer);
          // Also ends a check still waiting for a retry; a request in flight ends by its own timeout.
          await provider.close();
        }
      }),
    );
  } finally {
    await runtime.close();
  }
  const ok = results.every((r) => r.ok);
  // Warnings (a secret written in the file) do not make the config unusable: still exit 0.
  const warnings = ctx.config.warnings.map((w) => w.message);
  for (const warning of warnings) {
    process.stderr.write(`roster-sync: warning: ${warning}\n`);
  }
  if (ctx.json) {
    out(
      json({
        config: ctx.config.file,
        mappings: ctx.config.mappings.length,
        ok,
        warnings,
        providers: results,
      }),
    );
  } else {
    out(`config ${ctx.config.file}: ${ctx.config.mappings.length} mapping(s), valid\n`);
    out(table(results, ["provider", "type", "ok", "error"]));
    for (const { provider, warnings } of results.filter((r) => r.warnings.count > 0)) {
      out(`provider ${provider}: ${warnings.count} warning(s), in what the sync does not read:\n`);
      out(warnings.shown.map((w) => `  ${w}\n`).join(""));
    }
  }
  return ok ? 0 : 1;
}
