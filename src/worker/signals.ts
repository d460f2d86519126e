// Signals of `roster-sync worker` (see src/worker/index.ts for what shutdown and reload do):
// SIGTERM/SIGINT → graceful shutdown; a second one → exit at once with 128 + the signal's number
// (143 / 130); SIGHUP → reload the config.
import type { Logger } from "../log.js";
import type { RosterWorker } from "./index.js";

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * SIGTERM/SIGINT → graceful shutdown, then `onStopped`; a second one → `exit(130|143)` at once.
 * SIGHUP → reload. Returns a function that removes the handlers.
 */
export function handleSignals(
  worker: Pick<RosterWorker, "reload" | "shutdown">,
  logger: Logger,
  onStopped: () => void,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let stopping = false;
  const stop = (signal: keyof typeof SIGNAL_EXIT_CODES) => () => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      exit(SIGNAL_EXIT_CODES[signal]);
      return;
    }
    stopping = true;
    logger.info({ signal }, "signal received: stopping");
    void worker.shutdown().then(onStopped);
  };
  const onTerm = stop("SIGTERM");
  const onInt = stop("SIGINT");
  const onHup = (): void => {
    logger.info({ signal: "SIGHUP" }, "signal received: reloading the config");
    void worker.reload();
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  process.on("SIGHUP", onHup);
  return () => {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    process.off("SIGHUP", onHup);
  };
}
