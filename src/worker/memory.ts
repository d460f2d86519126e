// The worker's V8 young generation. V8 doubles the new space (up to 2 × 16 MB semi-spaces) whenever
// a scavenge finds much of it alive, and keeps the pages while the process goes on allocating a
// little, which a worker always does (BullMQ polling, the relay loop). Loading the CLI's modules
// alone grows it to the maximum. Held at its initial 1 MB semi-space, a worker's RSS went from
// 147 MB to 123 MB idle, and from 176 MB to 125 MB idle after 200 mappings had run on `every: 5s`
// (`npx tsx bench/scheduling.ts`). The price is more frequent scavenges: a sync-shaped allocation
// loop took about 5 % longer.
//
// The cap is V8's `--max-semi-space-size`, read only when the heap is set up, so a running process
// cannot lower it. `--semi-space-growth-factor` is read each time the new space would grow; at 1 it
// stays the size it started at. bin/roster-sync.js sets it, and only it: before loading the CLI,
// because loading is what grows it. An operator who sets either flag (on the command line, or
// `--max-semi-space-size` in NODE_OPTIONS) keeps their choice.
import v8 from "node:v8";

const YOUNG_GENERATION_FLAGS = /--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/;

/** Keeps the new space at its initial size; false when the operator chose a size themselves. */
export function holdYoungGeneration(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  if ([...execArgv, nodeOptions ?? ""].some((arg) => YOUNG_GENERATION_FLAGS.test(arg))) {
    return false;
  }
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  return true;
}
