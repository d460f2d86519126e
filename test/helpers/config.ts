// Config texts for the loader's tests: the file they claim to come from, a minimal config to add
// lines to, the ConfigError a text is refused with, and where a fragment stands in a text.
import { parseConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

/** The path errors and warnings name (nothing is read from it). */
export const CONFIG_FILE = "/etc/roster/sync.config.yaml";

/**
 * One OneRoster 1.1 provider `district` (a loopback URL, no auth) and one mapping `ela6` of its
 * students: `provider` lines go under the provider (the first at line 7), `mapping` lines under the
 * mapping, `top` at the end.
 */
export function minimalConfig({ provider = "", mapping = "", top = "" } = {}): string {
  return `
providers:
  district:
    type: oneroster
    baseUrl: http://127.0.0.1:8299/ims/oneroster/v1p1/
    auth: { method: none }
${provider}
mappings:
  - name: ela6
    provider: district
    users: students
    product: creative-cloud
${mapping}
${top}
`;
}

/** The ConfigError parseConfig refuses `text` with; no error, or another one, fails the test. */
export function configErrorOf(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(text, CONFIG_FILE, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** `line:col` (1-based) where `fragment` first starts in `text`. */
export function positionOf(text: string, fragment: string): string {
  const index = text.indexOf(fragment);
  if (index < 0) {
    throw new Error(`"${fragment}" is not in the config`);
  }
  const before = text.slice(0, index).split("\n");
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}
