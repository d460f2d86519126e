// `roster-sync` command line (SPEC §6): parses arguments and wires the parts together. Exit codes:
// 0 all succeeded; 1 a run failed (or a runtime error); 2 bad usage or configuration; 3 a run was held.
import { Command, CommanderError, Option } from "commander";
import { ConfigError, DatabaseLockedError, RosterSyncError, UsageError } from "../errors.js";
import { configCommand } from "./config.js";
import { createContext, type CommandContext, type GlobalOptions, type Io } from "./context.js";
import { eventsCommand, historyCommand, membersCommand } from "./history.js";
import { sandboxCommand, type SandboxOptions } from "./sandbox.js";
import { syncCommand, type SyncOptions } from "./sync.js";
import { VALIDATE_TIMEOUT_SECONDS, validateCommand, type ValidateOptions } from "./validate.js";
import { packageVersion } from "./version.js";
import { workerCommand, type WorkerCommandOptions } from "./worker.js";

export const EXIT = { ok: 0, failed: 1, usage: 2, held: 3 } as const;

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command("roster-sync")
    .description("Keeps downstream products in step with school rosters.")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => io.stdout(s) })
    .showHelpAfterError();

  const withContext =
    <A extends unknown[]>(
      command: string,
      action: (ctx: CommandContext, ...args: A) => Promise<number>,
    ): ((...args: [...A, Command]) => Promise<void>) =>
    async (...args) => {
      // Commander calls an action with the positional arguments, the command's options, the command.
      const cmd = args[args.length - 1] as Command;
      const options = cmd.optsWithGlobals<GlobalOptions>();
      const ctx = createContext(command, options, io);
      try {
        exitCode = await action(ctx, ...(args.slice(0, -1) as unknown as A));
      } finally {
        await ctx.close();
      }
    };

  const common = (cmd: Command, printing = true) => {
    cmd.option("-c, --config <path>", "config file (default: $SYNC_CONFIG or ./sync.config.yaml)");
    if (printing) {
      cmd.option("--json", "print one JSON document on stdout");
    }
    cmd.addOption(
      new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error", "silent"]),
    );
    return cmd;
  };

  common(
    program
      .command("sync")
      .description("run mappings now, in this process (no Redis needed)")
      .argument("[mapping...]", "mappings to run (default: all)")
      .option("--dry-run", "compute and report the diff; write only a dry-run history row")
      .option("--force", "apply a diff that the safety guard would hold"),
  ).action(
    withContext("sync", (ctx, names: string[], opts: SyncOptions) =>
      syncCommand(ctx, names, opts, io.stdout),
    ),
  );

  common(
    program
      .command("history")
      .description("recent runs, newest first")
      .option("--mapping <name>", "only this mapping")
      .option("--limit <n>", "how many runs (default 20)"),
  ).action(
    withContext("history", (ctx, opts: { mapping?: string; limit?: string }) =>
      historyCommand(ctx, opts, io.stdout),
    ),
  );

  common(
    program
      .command("events")
      .description("stored events, oldest first")
      .option("--run <id>", "only this run")
      .option("--mapping <name>", "only this mapping")
      .option("--type <type>", "add | remove | update")
      .option("--limit <n>", "how many events (default 1000)"),
  ).action(
    withContext("events", (ctx, opts: { run?: string; mapping?: string; type?: string; limit?: string }) =>
      eventsCommand(ctx, opts, io.stdout),
    ),
  );

  common(
    program
      .command("members")
      .description("the mapping's current snapshot")
      .requiredOption("--mapping <name>", "the mapping"),
  ).action(withContext("members", (ctx, opts: { mapping: string }) => membersCommand(ctx, opts, io.stdout)));

  common(
    program
      .command("config")
      .description("the effective config: ${VAR} substituted, defaults applied, secrets as ***"),
  ).action(withContext("config", async (ctx) => configCommand(ctx, io.stdout)));

  common(
    program
      .command("validate")
      .description("check the config and each provider's credentials")
      .option(
        "--timeout <seconds>",
        `how long each provider has to answer, retries included (default ${VALIDATE_TIMEOUT_SECONDS})`,
      ),
  ).action(withContext("validate", (ctx, opts: ValidateOptions) => validateCommand(ctx, opts, io.stdout)));

  common(
    program
      .command("worker")
      .description("long-lived: schedules every mapping, processes sync jobs, relays events (needs Redis)")
      .option(
        "--metrics-port <n>",
        "port of /healthz and /metrics (default: $METRICS_PORT or 9464; 0 = a free one)",
      )
      .option(
        "--metrics-host <host>",
        "address of /healthz and /metrics (default: $METRICS_HOST or 0.0.0.0)",
      ),
    false,
  ).action(async (opts: WorkerCommandOptions) => {
    exitCode = await workerCommand(opts, io);
  });

  program
    .command("sandbox")
    .description("a local OneRoster 1.1 server with a generated district, for trying things out")
    .option("--port <n>", "port on 127.0.0.1 (default 8299, as in the example config; 0 = a free one)")
    .option("--seed <n>", "district seed")
    .option("--schools <n>", "number of schools")
    .option("--students-per-school <n>", "students per school")
    .option("--latency-ms <n>", "added latency per request")
    .option("--max-page-size <n>", "cap on limit")
    .option("--auth <method>", "oauth1 (default) | oauth2 | none")
    .option("--client-id <id>", "accepted client id")
    .option("--client-secret <secret>", "accepted client secret")
    .option(
      "--mode <modes>",
      "strict modes, comma-separated: minimal (only what the specs require, filters ignored, any order), top-level-only (no nested endpoints)",
    )
    .action(async (opts: SandboxOptions) => {
      exitCode = await sandboxCommand(opts, io.stdout);
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    return reportError(error, io.env);
  }
  return exitCode;
}

/** One line on stderr and the exit code; a stack only for an error nobody expected, at LOG_LEVEL=debug. */
function reportError(error: unknown, env: Io["env"]): number {
  if (error instanceof CommanderError) {
    // Commander already printed the message; --help and --version exit 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof ConfigError || error instanceof UsageError) {
    process.stderr.write(`roster-sync: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof DatabaseLockedError || error instanceof RosterSyncError) {
    process.stderr.write(`roster-sync: ${error.message}\n`);
    return EXIT.failed;
  }
  const debug = env.LOG_LEVEL === "debug" || env.LOG_LEVEL === "trace";
  const text =
    error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`roster-sync: ${text}${debug ? "" : " (LOG_LEVEL=debug shows where)"}\n`);
  return EXIT.failed;
}

function defaultIo(): Io {
  return { env: process.env, cwd: process.cwd(), stdout: (text) => process.stdout.write(text) };
}
