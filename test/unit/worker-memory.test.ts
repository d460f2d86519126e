// The worker holds V8's new space at its initial size (src/worker/memory.ts). Test files run in
// their own process (pool: forks), so the flag set here reaches no other test.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { holdYoungGeneration } from "../../src/worker/memory.js";

const newSpaceMb = () =>
  v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size / 1048576;

/** Short-lived objects with some survivors, the shape that makes V8 grow its new space. */
function churn(): number {
  let kept: object[] = [];
  let total = 0;
  for (let i = 0; i < 2_000_000; i += 1) {
    kept.push({ id: `u${i}`, roles: [{ role: "student", org: `s${i % 50}` }] });
    if (kept.length > 50_000) {
      total += kept.length;
      kept = [];
    }
  }
  return total + kept.length;
}

describe("holdYoungGeneration", () => {
  it("leaves an operator's own young-generation flags alone", () => {
    expect(holdYoungGeneration(["--max-semi-space-size=8"], undefined)).toBe(false);
    expect(holdYoungGeneration([], "--inspect --max_semi_space_size=4")).toBe(false);
    expect(holdYoungGeneration([], "--semi-space-growth-factor=2")).toBe(false);
  });

  it("keeps the new space at its initial size under churn", () => {
    const before = newSpaceMb();
    // Unheld, this churn grows the new space to V8's 32 MB maximum (checked by hand with node -e).
    expect(before).toBeLessThan(32);
    expect(holdYoungGeneration([], "--max-old-space-size=512")).toBe(true);
    expect(churn()).toBe(2_000_000);
    expect(newSpaceMb()).toBeLessThanOrEqual(before);
  });
});
