// What every command needs: the config (loaded once), a logger, and the database when asked for.
import { configPath, loadConfigFile, type Env } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { createLogger, type Logger } from "../log.js";
import { openDatabase, type Database } from "../store/db.js";

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  logLevel?: string;
}

export interface CommandContext {
  config: Config;
  logger: Logger;
  json: boolean;
  /** Opens the database (applying migrations) on first use. */
  database(): Promise<Database>;
  close(): Promise<void>;
}

export interface Io {
  env: Env;
  cwd: string;
  stdout: (text: string) => void;
}

export function createContext(command: string, options: GlobalOptions, io: Io): CommandContext {
  const logger = createLogger({ level: options.logLevel ?? io.env.LOG_LEVEL ?? "info" });
  const config = loadConfigFile(configPath(options.config, io.env, io.cwd), io.env);
  // `validate` prints them in its own report.
  if (command !== "validate") {
    logConfigWarnings(logger, config);
  }
  let db: Promise<Database> | undefined;
  return {
    config,
    logger,
    json: options.json ?? false,
    database() {
      db ??= openDatabase(config.database.url, { owner: `roster-sync ${command}` });
      return db;
    },
    async close() {
      if (db) {
        await (await db.catch(() => undefined))?.close();
      }
    },
  };
}

/** A usable config's warnings (a secret written in the file): one log line each. */
export function logConfigWarnings(logger: Logger, config: Config): void {
  for (const warning of config.warnings) {
    logger.warn({ keyPath: warning.keyPath }, `config: ${warning.message}`);
  }
}
