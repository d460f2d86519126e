// Builds the connector a provider's `type` names (SPEC §2).
import type { Logger } from "pino";
import type { MappingConfig, ProviderConfig } from "../config/schema.js";
import { CleverConnector } from "./clever/connector.js";
import { CsvConnector } from "./csv/connector.js";
import { OneRosterConnector } from "./oneroster/connector.js";
import type { Provider } from "./types.js";

/** `mappings`: the mappings the provider will serve, so that a CSV bundle is read for what they use
 * (without them it is read and kept whole). A connector made here has a rate budget and
 * concurrency cap of its own: the commands get theirs from a provider runtime (runtime.ts), which
 * shares them between every run of a provider. */
export function createProvider(
  config: ProviderConfig,
  opts: { logger?: Logger | undefined; mappings?: readonly MappingConfig[] | undefined } = {},
): Provider {
  switch (config.type) {
    case "oneroster":
    case "classlink":
      // ClassLink is OneRoster 1.1 signed with OAuth1: the schema insists on both.
      return new OneRosterConnector(config, { logger: opts.logger });
    case "clever":
      return new CleverConnector(config, { logger: opts.logger });
    case "csv":
      return new CsvConnector(config, { logger: opts.logger, mappings: opts.mappings });
  }
}
