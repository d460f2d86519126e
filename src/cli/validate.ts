// `validate`: the config parsed (or we would not be here) and every provider answers an
// authenticated request. Exit 0 when all are usable, 1 otherwise.
import { createProvider } from "../providers/index.js";
import type { CommandContext } from "./context.js";
import { json, table } from "./output.js";

export async function validateCommand(ctx: CommandContext, out: (text: string) => void): Promise<number> {
  const results = await Promise.all(
    Object.values(ctx.config.providers).map(async (config) => {
      const mappings = ctx.config.mappings.filter((m) => m.provider.name === config.name);
      const provider = createProvider(config, { logger: ctx.logger, mappings });
      const warnings = () => provider.tolerated?.() ?? { count: 0, shown: [] };
      try {
        await provider.check();
        return {
          provider: config.name,
          type: config.type,
          ok: true,
          error: null as string | null,
          warnings: warnings(),
        };
      } catch (error) {
        const message = (error as Error).message;
        return { provider: config.name, type: config.type, ok: false, error: message, warnings: warnings() };
      } finally {
        await provider.close();
      }
    }),
  );
  const ok = results.every((r) => r.ok);
  if (ctx.json) {
    out(json({ config: ctx.config.file, mappings: ctx.config.mappings.length, ok, providers: results }));
  } else {
    out(`config ${ctx.config.file}: ${ctx.config.mappings.length} mapping(s), valid\n`);
    out(table(results, ["provider", "type", "ok", "error"]));
    for (const { provider, warnings } of results.filter((r) => r.warnings.count > 0)) {
      out(`provider ${provider}: ${warnings.count} warning(s), in what the sync does not read:\n`);
      out(warnings.shown.map((w) => `  ${w}\n`).join(""));
    }
  }
  return ok ? 0 : 1;
}
