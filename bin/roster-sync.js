#!/usr/bin/env node
// The CLI entry. Runs the compiled code in dist/ (`npm run build`, done by `npm ci` via `prepare`).
import { holdYoungGeneration } from "../dist/src/worker/memory.js";

// The long-lived worker keeps V8's new space small (src/worker/memory.ts). It must be held before
// the CLI's modules load: loading them alone grows the new space to its 32 MB maximum.
if (process.argv[2] === "worker") {
  holdYoungGeneration(process.execArgv, process.env.NODE_OPTIONS);
}
const { main } = await import("../dist/src/cli/index.js");

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
