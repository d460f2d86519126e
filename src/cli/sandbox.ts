// `sandbox [--port N] [--mode minimal,top-level-only]`: a local OneRoster 1.1 server with a generated
// district, for trying things out, optionally as strict and odd as the specs allow. Runs until
// SIGINT/SIGTERM. A port in use is one line and exit code 1.
import { RosterSyncError, UsageError } from "../errors.js";
import { startSandbox, type SandboxModes } from "../sandbox/index.js";

export interface SandboxOptions {
  port?: string;
  seed?: string;
  schools?: string;
  studentsPerSchool?: string;
  latencyMs?: string;
  maxPageSize?: string;
  auth?: string;
  clientId?: string;
  clientSecret?: string;
  /** Comma-separated strict modes (src/sandbox/modes.ts): minimal, topLevelOnly. */
  mode?: string;
}

const MODES = { minimal: "minimal", "top-level-only": "topLevelOnly", topLevelOnly: "topLevelOnly" } as const;

function modes(value: string | undefined): SandboxModes | undefined {
  if (value === undefined) {
    return undefined;
  }
  const chosen: SandboxModes = {};
  for (const name of value.split(",").map((s) => s.trim())) {
    const key = MODES[name as keyof typeof MODES];
    if (!key) {
      throw new UsageError(`--mode must be minimal and/or top-level-only (comma-separated), not "${name}"`);
    }
    chosen[key] = true;
  }
  return chosen;
}

function int(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${flag} must be a whole number >= ${min}, not "${value}"`);
  }
  return n;
}

export async function sandboxCommand(
  options: SandboxOptions,
  out: (text: string) => void,
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  if (options.auth !== undefined && !["oauth1", "oauth2", "none"].includes(options.auth)) {
    throw new UsageError(`--auth must be oauth1, oauth2 or none, not "${options.auth}"`);
  }
  const port = int(options.port, "--port", 0) ?? 8299;
  const strict = modes(options.mode);
  const sandbox = await startSandbox({
    port,
    seed: int(options.seed, "--seed", 0),
    schools: int(options.schools, "--schools", 1),
    studentsPerSchool: int(options.studentsPerSchool, "--students-per-school", 1),
    latencyMs: int(options.latencyMs, "--latency-ms", 0),
    maxPageSize: int(options.maxPageSize, "--max-page-size", 1),
    auth: options.auth as "oauth1" | "oauth2" | "none" | undefined,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ...(strict ? { modes: strict } : {}),
  }).catch((error: NodeJS.ErrnoException) => {
    const why =
      error.code === "EADDRINUSE" ? "the port is in use (--port 0 picks a free one)" : error.message;
    throw new RosterSyncError("USAGE", `sandbox: cannot listen on 127.0.0.1:${port}: ${why}`, {
      cause: error,
    });
  });
  out(`sandbox OneRoster 1.1 server at ${sandbox.url}\n`);
  out(`OneRoster 1.2 at ${sandbox.url12} (OAuth 2 tokens from ${sandbox.tokenUrl})\n`);
  out(
    `admin API at ${new URL("/_sandbox/stats", sandbox.url).toString()} (POST /_sandbox/mutate, /_sandbox/faults, /_sandbox/modes)\n`,
  );
  if (strict) {
    out(`strict modes: ${Object.keys(strict).join(", ")} (see src/sandbox/modes.ts)\n`);
  }
  await new Promise<void>((resolve) => {
    signals.once("SIGINT", resolve);
    signals.once("SIGTERM", resolve);
  });
  await sandbox.close();
  return 0;
}
