// `validate`: the config parsed (or we would not be here) and every provider answers an
// authenticated request. Exit 0 when all are usable, 1 otherwise.
import { createProvider } from "../providers/index.js";
import type { CommandContext } from "./context.js";
import { json, table } from "./output.js";

export async function validateCommand(ctx: CommandContext, out: (text: string) => void): Promise<number> {
  const results = await Promise.all(
    Object.values(ctx.config.providers).map(async (config) => {
      const provider = createProvider(config, { logger: ctx.logger });
      try {
        await provider.check();
        return { provider: config.name, type: config.type, ok: true, error: null as string | null };
      } catch (error) {
        return { provider: config.name, type: config.type, ok: false, error: (error as Error).message };
      } finally {
        await provider.close();
      }
    }),
  );
  const ok = results.every((r) => r.ok);
  // Warnings (a secret written in the file) do not make the config unusable: still exit 0.
  const warnings = ctx.config.warnings.map((w) => w.message);
  for (const warning of warnings) {
    process.stderr.write(`roster-sync: warning: ${warning}\n`);
  }
  if (ctx.json) {
    out(
      json({
        config: ctx.config.file,
        mappings: ctx.config.mappings.length,
        ok,
        warnings,
        providers: results,
      }),
    );
  } else {
    out(`config ${ctx.config.file}: ${ctx.config.mappings.length} mapping(s), valid\n`);
    out(table(results, ["provider", "type", "ok", "error"]));
  }
  return ok ? 0 : 1;
}
