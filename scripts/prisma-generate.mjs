// Generates the Prisma client into src/generated/prisma at install time.
// `prisma generate` does not use the native schema engine, but the CLI looks for one first and
// would try to download it from a host that locked-down networks (and these machines) cannot
// reach; any existing file satisfies that look-up.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY:
    process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? (existsSync("/bin/false") ? "/bin/false" : process.execPath),
  CHECKPOINT_DISABLE: "1",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
};
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], {
  env,
  stdio: ["ignore", "ignore", "inherit"],
});
if (result.status !== 0) {
  console.error("roster-sync: `prisma generate` failed; see the message above");
  process.exit(result.status ?? 1);
}
