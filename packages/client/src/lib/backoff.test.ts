import { describe, expect, it } from "vitest";

import { backoffCap, backoffDelay } from "./backoff.js";

describe("full-jitter backoff", () => {
  it("caps at base·2^attempt, then at max", () => {
    const o = { baseMs: 500, maxMs: 30_000 };
    expect([0, 1, 2, 3, 5, 6, 7, 100, 5000].map((a) => backoffCap(a, o))).toEqual([500, 1000, 2000, 4000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it("draws uniformly in [0, cap): the extremes of random() give 0 and just under the cap", () => {
    expect(backoffDelay(3, { baseMs: 500 }, () => 0)).toBe(0);
    expect(backoffDelay(3, { baseMs: 500 }, () => 0.999_999)).toBe(3999);
    expect(backoffDelay(3, { baseMs: 500 }, () => 0.5)).toBe(2000);
  });

  it("stays within bounds for many draws, and spreads across them", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = backoffCap(attempt);
      const draws = Array.from({ length: 400 }, () => backoffDelay(attempt));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws)).toBeLessThan(cap);
      // Full jitter, not "cap ± a little": draws land in both halves of the range.
      expect(draws.some((d) => d < cap / 2) && draws.some((d) => d >= cap / 2)).toBe(true);
    }
  });
});
