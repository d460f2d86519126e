import { describe, expect, it } from "vitest";
import { checkRemovals } from "../../src/sync/guard.js";

const safety = { maxRemovals: 50, maxRemovalPercent: 20 };

describe("checkRemovals", () => {
  it.each([
    { previous: 0, removals: 0, hold: false, why: "nothing before" },
    { previous: 9, removals: 9, hold: false, why: "guard applies from 10 previous members" },
    { previous: 10, removals: 2, hold: false, why: "20% is not more than 20%" },
    { previous: 10, removals: 3, hold: true, why: "30% > 20%" },
    { previous: 1000, removals: 50, hold: false, why: "50 is not more than 50" },
    { previous: 1000, removals: 51, hold: true, why: "51 > 50" },
    { previous: 100, removals: 0, hold: false, why: "no removals" },
    { previous: 100, removals: 100, hold: true, why: "a wiped roster" },
  ])("previous $previous, removals $removals → hold $hold ($why)", ({ previous, removals, hold }) => {
    expect(checkRemovals(previous, removals, safety).hold).toBe(hold);
  });

  it("says why and how to apply anyway", () => {
    const verdict = checkRemovals(200, 120, safety);
    expect(verdict).toEqual({
      hold: true,
      reason:
        "held: 120 removals exceed maxRemovals 50; 120 of 200 members (60.0%) exceed maxRemovalPercent 20; run again with --force to apply",
    });
  });

  it("honours per-mapping limits", () => {
    expect(checkRemovals(100, 30, { maxRemovals: 1000, maxRemovalPercent: 50 }).hold).toBe(false);
    expect(checkRemovals(100, 30, { maxRemovals: 10, maxRemovalPercent: 100 }).hold).toBe(true);
  });
});
