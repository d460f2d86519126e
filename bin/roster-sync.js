#!/usr/bin/env node
// The CLI entry. Runs the compiled code in dist/ (`npm run build`, done by `npm ci` via `prepare`).
import { main } from "../dist/src/cli/index.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
