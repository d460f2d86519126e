// The package's version for `--version`, read from package.json at start-up. Read as a file, not
// imported: a JSON import needs an import attribute Node 20 and tsc disagree on, and this module
// must stay free of dependencies so that `--help` and `--version` stay quick.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The version in the nearest package.json above `from` (this file, in src/ or dist/src/). */
export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown };
      return typeof version === "string" ? version : "unknown";
    }
    if (path.dirname(dir) === dir) {
      return "unknown";
    }
  }
}
