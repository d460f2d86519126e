// The import rules `npm run lint` checks (dependency-cruiser): no cycles, and the layering of
// CONVENTIONS.md ("arrows point down the list only"). Type-only imports count: a cycle of types is
// still a cycle in the design, and it is how one started here (store/ took `Member` from sync/).
//
// Why layers are listed rather than checked as folder cycles: dependency-cruiser's folder scope
// counts `src/worker/index.ts` as part of `src`, so the worker's wiring importing jobs/ (which it
// must, and jobs/ imports src/log.ts) would read as `src` ↔ `jobs` forever. The rules below say
// the same thing per module, and name the file that breaks them.

/** Bottom first: each may import the ones above it in this list, never one below. */
const LAYERS = [
  ["base", "^src/[^/]+[.]ts$|^src/util/"], // errors, log, domain (the shared nouns), util
  ["config", "^src/config/"],
  ["providers", "^src/providers/"],
  ["store", "^src/store/"],
  ["sync", "^src/sync/"],
  ["events", "^src/events/"],
  ["app", "^src/app/"], // the use cases (and the queue's contract) that cli/, worker/ and jobs/ share
];
/** Entry points and what only they (or tests and benchmarks) may use. */
const ABOVE_ALL = "^src/(cli|worker|sandbox)/|^jobs/|^bin/|^bench/|^test/|^examples/|^scripts/";

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle (type-only imports included). Move what both sides need into a lower module.",
      from: {},
      to: { circular: true },
    },
    ...LAYERS.map(([name, path], index) => ({
      name: `layer-${name}`,
      severity: "error",
      comment:
        `${name} may import only ${
          LAYERS.slice(0, index)
            .map(([lower]) => lower)
            .join(", ") || "packages"
        }` + ` (layers, bottom first: ${LAYERS.map(([layer]) => layer).join(" ← ")} ← cli, worker, jobs).`,
      from: { path },
      to: { path: [...LAYERS.slice(index + 1).map(([, above]) => above), ABOVE_ALL].join("|") },
    })),
    {
      name: "cli-is-an-entry-point",
      severity: "error",
      comment: "Nothing outside src/cli imports src/cli (tests may).",
      from: { pathNot: "^src/cli/|^test/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "worker-is-an-entry-point",
      severity: "error",
      comment:
        "Only the `worker` command (src/cli/worker.ts) imports src/worker; jobs/ takes what it shares " +
        "with the worker from src/app or lower.",
      from: { pathNot: "^src/worker/|^src/cli/worker[.]ts$|^bin/|^bench/|^test/" },
      to: { path: "^src/worker/" },
    },
    {
      name: "jobs-only-from-the-worker-wiring",
      severity: "error",
      comment: "In src/, only the worker's wiring (src/worker/index.ts) imports jobs/.",
      from: { path: "^src/", pathNot: "^src/worker/index[.]ts$" },
      to: { path: "^jobs/" },
    },
    {
      name: "no-sandbox-in-the-product",
      severity: "error",
      comment: "The product never imports the sandbox, except the `sandbox` command that starts it.",
      from: { path: "^src/|^jobs/", pathNot: "^src/sandbox/|^src/cli/sandbox[.]ts$" },
      to: { path: "^src/sandbox/" },
    },
  ],
  options: {
    // The Prisma client is generated; bin/ and scripts/ import the build in dist/.
    doNotFollow: { path: ["node_modules", "^src/generated/", "^dist/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
