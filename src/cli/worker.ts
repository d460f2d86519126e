// `roster-sync worker [--config PATH]`: the long-lived worker (src/worker/index.ts). The metrics
// and health endpoints listen on METRICS_PORT (default 9464; 0 picks a free port) at METRICS_HOST
// (default 0.0.0.0); `--metrics-port` / `--metrics-host` override them. Exit codes: 0 after a
// clean shutdown (SIGTERM/SIGINT); 130/143 on a second SIGINT/SIGTERM; 2 for a bad config; 1 when
// the database or the metrics port cannot be opened.
import { configPath, loadConfigFile, type Env } from "../config/load.js";
import { UsageError } from "../errors.js";
import { createLogger } from "../log.js";
import { DEFAULT_METRICS_PORT } from "../worker/http.js";
import { startWorker } from "../worker/index.js";
import { handleSignals } from "../worker/signals.js";
import { logConfigWarnings } from "./context.js";

export interface WorkerCommandOptions {
  config?: string;
  logLevel?: string;
  metricsPort?: string;
  metricsHost?: string;
}

/** After a clean shutdown the process should end by itself; this exits if a stray handle keeps it up. */
const EXIT_SAFETY_NET_MS = 2000;

export async function workerCommand(
  options: WorkerCommandOptions,
  io: { env: Env; cwd: string },
): Promise<number> {
  const logger = createLogger({ level: options.logLevel ?? io.env.LOG_LEVEL ?? "info" });
  const file = configPath(options.config, io.env, io.cwd);
  const config = loadConfigFile(file, io.env);
  logConfigWarnings(logger, config);
  const port = parsePort(options.metricsPort ?? io.env.METRICS_PORT);
  const host = options.metricsHost ?? io.env.METRICS_HOST ?? "0.0.0.0";
  const worker = await startWorker({
    config,
    reloadConfig: () => loadConfigFile(file, io.env),
    logger,
    metrics: { host, port },
  });
  return new Promise<number>((resolve) => {
    const remove = handleSignals(worker, logger, () => {
      remove();
      setTimeout(() => process.exit(0), EXIT_SAFETY_NET_MS).unref();
      resolve(0);
    });
  });
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text === "") {
    return DEFAULT_METRICS_PORT;
  }
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`METRICS_PORT / --metrics-port: "${text}" is not a port number (0-65535)`);
  }
  return port;
}
