// pino on stderr (stdout is for --json output): JSON lines, pretty on a terminal. Secrets are
// redacted by key wherever they appear in a logged object.
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { UsageError } from "./errors.js";

export type { Logger };

const REDACT = [
  "clientSecret",
  "secret",
  "token",
  "password",
  "authorization",
  "*.clientSecret",
  "*.secret",
  "*.token",
  "*.password",
  "*.authorization",
  "*.*.clientSecret",
  "*.*.secret",
  "*.*.token",
  "headers.authorization",
  "*.headers.authorization",
];

export interface LoggerOptions {
  level?: string;
  /** Pretty, colourless-when-piped output; default: when stderr is a terminal. */
  pretty?: boolean;
}

/** pino's levels, lowest first; `LOG_LEVEL` and `--log-level` take one of them. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Throws UsageError (exit 2, one line) for a level pino does not know, e.g. `LOG_LEVEL=verbose`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`LOG_LEVEL / --log-level: "${level}" is not a log level (${LOG_LEVELS.join(", ")})`);
  }
  const base = {
    level,
    redact: { paths: REDACT, censor: "[redacted]" },
    base: undefined,
  } satisfies pino.LoggerOptions;
  if (options.pretty ?? process.stderr.isTTY) {
    return pino(
      base,
      pretty({ destination: 2, sync: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" }),
    );
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** Logs progress at most once per interval (SPEC §8: long fetches print a line at most once a second). */
export function throttled(intervalMs: number, now: () => number = Date.now): (emit: () => void) => void {
  let last = -Infinity;
  return (emit) => {
    const t = now();
    if (t - last >= intervalMs) {
      last = t;
      emit();
    }
  };
}
