// `config` (SPEC §6): the effective config, as the commands use it: `${VAR}` substituted, every
// default applied (inheriting blocks merged field by field: mapping → defaults → built-in), and
// secrets shown as `***`. YAML on stdout, or one JSON document with --json.
import { stringify } from "yaml";
import type { Config } from "../config/schema.js";
import type { CommandContext } from "./context.js";
import { json } from "./output.js";

/** Keys whose values are secrets wherever they appear (auth, webhook sinks). */
const SECRET_KEYS = new Set(["clientSecret", "token", "secret"]);
/** `scheme://user:password@` → the password replaced. */
const URL_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@]*:)[^@/]+@/;

/** The effective config in the file's layout, with every secret as `***`. */
export function effectiveConfig(config: Config): Record<string, unknown> {
  return redact({
    database: config.database,
    redis: config.redis,
    providers: Object.fromEntries(
      Object.entries(config.providers).map(([name, { name: _name, ...provider }]) => [name, provider]),
    ),
    mappings: config.mappings.map((m) => ({ ...m, provider: m.provider.name })),
    defaults: { timezone: config.timezone },
    events: { sinks: config.sinks },
    worker: config.worker,
  }) as Record<string, unknown>;
}

function redact(value: unknown, key?: string): unknown {
  if (key !== undefined && SECRET_KEYS.has(key) && value !== undefined) {
    return "***";
  }
  if (typeof value === "string") {
    return value.replace(URL_PASSWORD, "$1***@");
  }
  if (Array.isArray(value)) {
    return value.map((v) => redact(v));
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, redact(v, k)]),
    );
  }
  return value;
}

export function configCommand(ctx: CommandContext, out: (text: string) => void): number {
  const effective = effectiveConfig(ctx.config);
  if (ctx.json) {
    out(
      json({ file: ctx.config.file, config: effective, warnings: ctx.config.warnings.map((w) => w.message) }),
    );
  } else {
    out(`# ${ctx.config.file}, as roster-sync reads it (defaults applied, secrets as ***)\n`);
    out(stringify(effective));
  }
  return 0;
}
