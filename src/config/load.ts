// Reads `sync.config.yaml` and the environment, then parses once (schema.ts). Errors name the file,
// the key path and the line and column. `${VAR}` and `${VAR:-default}` are substituted in scalar
// values after the YAML is read, so a secret containing YAML syntax cannot change the document and
// positions in errors stay those of the file the admin wrote.
import { readFileSync } from "node:fs";
import path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { configSchema, type Config, type MappingConfig, type ProviderConfig } from "./schema.js";

export type Env = Record<string, string | undefined>;

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

const reference = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function parseConfig(text: string, file: string, env: Env): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new ConfigError(
      `${file}:${pos.line}:${pos.col}: invalid YAML: ${first.message.split("\n")[0]}`,
      file,
      undefined,
      pos.line,
      pos.col,
    );
  }
  substituteEnv(doc, file, env, lineCounter);
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw zodError(parsed.error, doc, file, lineCounter);
  }
  return resolve(parsed.data, file, doc, lineCounter);
}

function substituteEnv(doc: Document, file: string, env: Env, lineCounter: LineCounter): void {
  visit(doc, {
    Scalar(_key, node, visitPath) {
      if (typeof node.value !== "string" || !node.value.includes("${")) {
        return;
      }
      const original = node.value;
      const replaced = original.replace(reference, (_m, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== "") {
          return value;
        }
        if (fallback !== undefined) {
          return fallback;
        }
        const keyPath = pathOfVisit(visitPath, node);
        const pos = lineCounter.linePos(node.range?.[0] ?? 0);
        throw new ConfigError(
          `${file}:${pos.line}:${pos.col}: ${keyPath}: environment variable ${name} is not set`,
          file,
          keyPath,
          pos.line,
          pos.col,
        );
      });
      // A plain scalar that is one whole reference takes the type of its value (`${PAGE_SIZE:-100}` is 100).
      const whole = /^\$\{[^}]+\}$/.test(original) && node.type === "PLAIN";
      node.value = whole ? plainValue(replaced) : replaced;
    },
  });
}

function plainValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) {
    return Number(text);
  }
  if (text === "true" || text === "false") {
    return text === "true";
  }
  return text;
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
    providers[name] = { ...provider, name };
    if (provider.path !== undefined) {
      // csv bundles: relative to the config file's folder (see providerSchema.path).
      providers[name] = { ...provider, name, path: path.resolve(path.dirname(file), provider.path) };
    }
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
      schedule: m.schedule ?? raw.defaults.schedule,
      safety: { ...raw.defaults.safety, ...m.safety },
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
  };
}
