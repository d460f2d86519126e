// The safety guard (SPEC §5 step 3): hold a run that would remove too many members, so that a
// provider glitch or a renamed class never takes licences from a whole school. Pure.
import type { SafetyConfig } from "../config/schema.js";

/** Below this many members in the previous snapshot the guard does not apply. */
export const GUARD_MIN_PREVIOUS = 10;

export type GuardVerdict = { hold: false } | { hold: true; reason: string };

export function checkRemovals(previousCount: number, removals: number, safety: SafetyConfig): GuardVerdict {
  if (previousCount < GUARD_MIN_PREVIOUS || removals === 0) {
    return { hold: false };
  }
  const percent = (removals / previousCount) * 100;
  const reasons: string[] = [];
  if (removals > safety.maxRemovals) {
    reasons.push(`${removals} removals exceed maxRemovals ${safety.maxRemovals}`);
  }
  if (percent > safety.maxRemovalPercent) {
    reasons.push(
      `${removals} of ${previousCount} members (${percent.toFixed(1)}%) exceed maxRemovalPercent ${safety.maxRemovalPercent}`,
    );
  }
  if (reasons.length === 0) {
    return { hold: false };
  }
  return { hold: true, reason: `held: ${reasons.join("; ")}; run again with --force to apply` };
}
