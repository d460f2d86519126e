// Every config the project shows an admin parses: the README's yaml blocks (issue 9 item 9: its
// ClassLink example was a YAML syntax error), sync.config.yaml and any example config file. A
// README block that is a fragment (only `providers:`) is completed with a mapping so the whole
// loader runs on it.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { ROOT } from "../helpers/cli.js";

/** Every `${NAME}` the text references, set to a value of its kind with YAML syntax in it. */
function envFor(text: string): Record<string, string> {
  const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  const value = (name: string) =>
    name === "DATABASE_URL"
      ? "postgresql://roster:p@ss#w,rd@127.0.0.1:5432/roster"
      : /URL$/.test(name)
        ? "http://127.0.0.1:8299/ims/oneroster/v1p1/?a=1,b#c"
        : `v: {${name}}, #x`;
  return Object.fromEntries(names.map((name) => [name, value(name)]));
}

function readmeBlocks(): { line: number; text: string }[] {
  const lines = readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
  const blocks: { line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (/^\s*```ya?ml\s*$/.test(lines[i]!)) {
      const start = i + 1;
      const indent = /^\s*/.exec(lines[i]!)![0].length;
      let end = start;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) {
        end += 1;
      }
      blocks.push({
        line: start + 1,
        text: lines
          .slice(start, end)
          .map((l) => l.slice(indent))
          .join("\n"),
      });
      i = end;
    }
  }
  return blocks;
}

/** A fragment made whole: a mapping on its first provider, or a provider for its mappings. */
function complete(text: string): string {
  let whole = text;
  if (!/^providers:/m.test(whole)) {
    whole +=
      "\nproviders:\n  district: { type: oneroster, baseUrl: 'http://127.0.0.1:1/', auth: { method: none } }\n";
  }
  if (!/^mappings:/m.test(whole)) {
    const provider = /^providers:\s*\n\s+([A-Za-z0-9._-]+):/m.exec(whole)![1]!;
    whole += `\nmappings:\n  - { name: example, provider: ${provider}, users: students, product: p }\n`;
  }
  return whole;
}

const configFiles = [
  "sync.config.yaml",
  ...readdirSync(path.join(ROOT, "examples"), { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f) && !/compose/.test(f))
    .map((f) => path.join("examples", f)),
];

describe("documented configs parse", () => {
  const blocks = readmeBlocks();

  it("finds the README's yaml blocks", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
  });

  it.each(blocks)("README.md yaml block at line $line", ({ line, text }) => {
    const file = `README.md:${line}`;
    const whole = complete(text);
    expect(() => parseConfig(whole, file, envFor(whole))).not.toThrow();
  });

  it.each(configFiles)("%s", (file) => {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    const config = parseConfig(text, path.join(ROOT, file), envFor(text));
    expect(config.mappings.length).toBeGreaterThan(0);
    // With no environment at all, the example still works: every reference has a default.
    if (file === "sync.config.yaml") {
      expect(() => parseConfig(text, file, {})).not.toThrow();
    }
  });
});
