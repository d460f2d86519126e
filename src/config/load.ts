// Reads `sync.config.yaml` and the environment, then parses once (schema.ts). Errors name the file,
// the key path and the line and column. `${VAR}` and `${VAR:-default}` are substituted in scalar
// values after the YAML is read (env.ts), so a secret containing YAML syntax cannot change the
// document and positions in errors stay those of the file the admin wrote. Blocks that inherit
// (safety, rateLimit, retry) are merged here, field by field: own → `defaults` → built-in.
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Alias,
  type Document,
  type Node,
  type Scalar,
} from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { cronProblem } from "./cron.js";
import { maskReferences, MissingVariable, substitute, unmask, type Env, type Piece } from "./env.js";
import {
  configSchema,
  inherit,
  RATE_LIMIT_DEFAULTS,
  RETRY_DEFAULTS,
  SAFETY_DEFAULTS,
  type Config,
  type MappingConfig,
  type ProviderConfig,
} from "./schema.js";
import { plainTextSecrets } from "./secrets.js";

export type { Env };

/** `--config PATH`, else `$SYNC_CONFIG`, else `./sync.config.yaml` (SPEC §2). */
export function configPath(explicit: string | undefined, env: Env, cwd: string): string {
  return path.resolve(cwd, explicit ?? env.SYNC_CONFIG ?? "sync.config.yaml");
}

export function loadConfigFile(file: string, env: Env): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    throw new ConfigError(`${file}: ${reason}`, file, undefined);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: Env): Config {
  const lineCounter = new LineCounter();
  let masked: ReturnType<typeof maskReferences>;
  try {
    masked = maskReferences(text);
  } catch (error) {
    throw new ConfigError(`${file}: ${(error as Error).message}`, file, undefined);
  }
  const { references } = masked;
  const doc = parseDocument(masked.masked, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    const message = unmask(first.message.split("\n")[0]!, references, text);
    throw new ConfigError(
      `${file}:${pos.line}:${pos.col}: invalid YAML: ${message}`,
      file,
      undefined,
      pos.line,
      pos.col,
    );
  }
  let origins: Map<Scalar, Piece[]>;
  try {
    origins = substitute(doc, references, env);
  } catch (error) {
    if (!(error instanceof MissingVariable)) {
      throw error;
    }
    const keyPath = pathOfVisit(error.visitPath, error.node);
    const pos = lineCounter.linePos(error.reference.start);
    throw new ConfigError(
      `${file}:${pos.line}:${pos.col}: ${keyPath}: ${error.message}`,
      file,
      keyPath,
      pos.line,
      pos.col,
    );
  }
  const parsed = configSchema.safeParse(toPlain(doc, file, lineCounter) ?? {});
  if (!parsed.success) {
    throw zodError(parsed.error, doc, file, lineCounter);
  }
  const config = resolve(parsed.data, file, doc, lineCounter);
  config.warnings = plainTextSecrets(doc, origins, file, lineCounter, formatPath);
  return config;
}

/** Aliases expanded at most this many times in all: a few anchors are normal, a billion laughs is not. */
const MAX_ALIAS_COUNT = 100;

/** The document as plain values; an alias bomb (billion laughs) is a ConfigError at the alias. */
function toPlain(doc: Document, file: string, lineCounter: LineCounter): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const alias = suspectAlias(doc);
    const pos = alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const why = /excessive alias count/i.test((error as Error).message)
      ? `aliases expand to too many nodes (over ${MAX_ALIAS_COUNT}; a YAML alias bomb?)`
      : (error as Error).message;
    throw new ConfigError(`${where}: invalid YAML: ${why}`, file, undefined, pos?.line, pos?.col);
  }
}

/** The first alias of a collection that itself holds aliases (where an expansion multiplies). */
function suspectAlias(doc: Document): Alias | undefined {
  let first: Alias | undefined;
  let nested: Alias | undefined;
  visit(doc, {
    Alias(_key, alias) {
      first ??= alias;
      const source = alias.resolve(doc);
      if (source && !nested) {
        let holdsAlias = false;
        visit(source, { Alias: () => ((holdsAlias = true), visit.BREAK) });
        if (holdsAlias) {
          nested = alias;
          return visit.BREAK;
        }
      }
      return undefined;
    },
  });
  return nested ?? first;
}

/** The key path of a node reached by `visit`, e.g. `providers.district.auth.clientSecret`. */
function pathOfVisit(visitPath: readonly unknown[], node: Node): string {
  const parts: string[] = [];
  const chain = [...visitPath, node];
  for (let i = 0; i < chain.length - 1; i += 1) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) {
      parts.push(`[${parent.items.indexOf(child as never)}]`);
    } else if (
      child &&
      typeof child === "object" &&
      "key" in child &&
      isScalar((child as { key: unknown }).key)
    ) {
      parts.push(String(((child as { key: { value: unknown } }).key as { value: unknown }).value));
    }
  }
  return formatPath(parts);
}

function formatPath(parts: (string | number)[]): string {
  return parts
    .map((p, i) => (typeof p === "number" ? `[${p}]` : p.startsWith("[") ? p : i === 0 ? p : `.${p}`))
    .join("")
    .replace(/^\./, "");
}

/** Position of the deepest existing node on `keyPath` (of the key itself when `atKey`). */
function positionOf(doc: Document, keyPath: (string | number)[], lineCounter: LineCounter, atKey = false) {
  if (atKey && keyPath.length > 0) {
    const parent = doc.getIn(keyPath.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === keyPath[keyPath.length - 1]);
      if (pair && isScalar(pair.key) && pair.key.range) {
        return lineCounter.linePos(pair.key.range[0]);
      }
    }
  }
  for (let n = keyPath.length; n >= 0; n -= 1) {
    const node = doc.getIn(keyPath.slice(0, n), true) as Node | undefined;
    if (node && typeof node === "object" && "range" in node && node.range) {
      // For a key that is present, point at the value; for a missing key, at its parent map.
      return lineCounter.linePos(node.range[0]);
    }
    if (n === 0 && doc.contents && "range" in doc.contents && doc.contents.range) {
      return lineCounter.linePos(doc.contents.range[0]);
    }
  }
  return undefined;
}

function zodError(error: z.ZodError, doc: Document, file: string, lineCounter: LineCounter): ConfigError {
  const lines: string[] = [];
  let firstPos: { line: number; col: number } | undefined;
  let firstPath: string | undefined;
  for (const issue of error.issues.slice(0, 10)) {
    let issuePath = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0]!;
      issuePath = [...issuePath, key];
      message = `unknown key${issue.keys.length > 1 ? `s ${issue.keys.join(", ")}` : ""}`;
    } else if (
      doc.getIn(issuePath) === undefined &&
      (issue.code === "invalid_type" || issue.code === "invalid_union")
    ) {
      message = "is required";
    }
    const pos = positionOf(doc, issuePath, lineCounter, issue.code === "unrecognized_keys");
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const keyPath = formatPath(issuePath) || "(top level)";
    lines.push(`${where}: ${keyPath}: ${message}`);
    firstPos ??= pos;
    firstPath ??= keyPath;
  }
  const more = error.issues.length > 10 ? `\n… and ${error.issues.length - 10} more` : "";
  return new ConfigError(lines.join("\n") + more, file, firstPath, firstPos?.line, firstPos?.col);
}

type Parsed = z.infer<typeof configSchema>;

/** Applies defaults, resolves each mapping's provider and checks what spans several keys. */
function resolve(raw: Parsed, file: string, doc: Document, lineCounter: LineCounter): Config {
  const fail = (keyPath: (string | number)[], message: string): never => {
    const pos = positionOf(doc, keyPath, lineCounter);
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    throw new ConfigError(
      `${where}: ${formatPath(keyPath)}: ${message}`,
      file,
      formatPath(keyPath),
      pos?.line,
      pos?.col,
    );
  };
  if (!isMap(doc.contents)) {
    fail([], "the file must be a YAML mapping");
  }
  const providers: Record<string, ProviderConfig> = {};
  for (const [name, provider] of Object.entries(raw.providers)) {
    providers[name] = {
      ...provider,
      name,
      rateLimit: inherit(RATE_LIMIT_DEFAULTS, raw.defaults.rateLimit, provider.rateLimit),
      retry: inherit(RETRY_DEFAULTS, raw.defaults.retry, provider.retry),
      // csv bundles: relative to the config file's folder (see providerSchema.path).
      ...(provider.path === undefined ? {} : { path: path.resolve(path.dirname(file), provider.path) }),
    };
  }
  if (Object.keys(providers).length === 0) {
    fail(["providers"], "must name at least one provider");
  }
  const seen = new Set<string>();
  const mappings: MappingConfig[] = raw.mappings.map((m, i) => {
    if (seen.has(m.name)) {
      fail(["mappings", i, "name"], `duplicate mapping name "${m.name}"`);
    }
    seen.add(m.name);
    const provider = providers[m.provider];
    if (!provider) {
      fail(
        ["mappings", i, "provider"],
        `unknown provider "${m.provider}" (known: ${Object.keys(providers).join(", ")})`,
      );
    }
    if (m.users === "users" && m.groups) {
      fail(["mappings", i, "users"], "users: users is valid only for a mapping without groups");
    }
    const schedule = m.schedule ?? raw.defaults.schedule;
    // Parsed in UTC by the schema; here in the zone the worker will use.
    const problem = typeof schedule === "string" ? cronProblem(schedule, raw.defaults.timezone) : undefined;
    if (problem) {
      fail(m.schedule === undefined ? ["defaults", "schedule"] : ["mappings", i, "schedule"], problem);
    }
    return {
      name: m.name,
      provider: provider!,
      users: m.users,
      groups: m.groups?.map((g) => ({
        type: g.type,
        match: g.match,
        matchOn: g.matchOn ?? provider!.matchGroupsBy,
      })),
      include: m.include,
      product: m.product,
      schedule,
      safety: inherit(SAFETY_DEFAULTS, raw.defaults.safety, m.safety),
    };
  });
  return {
    file,
    database: raw.database,
    redis: raw.redis,
    timezone: raw.defaults.timezone,
    providers,
    mappings,
    sinks: raw.events.sinks,
    worker: raw.worker,
    warnings: [],
  };
}
