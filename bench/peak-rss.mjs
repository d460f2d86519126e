// Preloaded into the CLI a benchmark runs (`node --import ./bench/peak-rss.mjs bin/roster-sync.js …`):
// writes the process's peak resident set size (KiB, getrusage's ru_maxrss) to $BENCH_RSS_FILE on exit.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  const file = process.env.BENCH_RSS_FILE;
  if (file) {
    writeFileSync(file, String(process.resourceUsage().maxRSS));
  }
});
