import { describe, expect, it } from "vitest";

import { Deadlines } from "./deadlines.js";

/** Deadlines on a clock the test moves. */
function wheel(resolutionMs = 100) {
  let now = 1_000_000;
  const due: string[] = [];
  const deadlines = new Deadlines<string>((item) => due.push(item), resolutionMs, () => now);
  return {
    deadlines,
    due,
    advance(ms: number) {
      now += ms;
      deadlines.tick();
    },
    get now() {
      return now;
    },
  };
}

describe("Deadlines", () => {
  it("hands out each item once its time has passed, never before, within one resolution after", () => {
    const w = wheel(100);
    w.deadlines.set("a", w.now + 250);
    w.deadlines.set("b", w.now + 100);
    w.advance(99);
    expect(w.due).toEqual([]);
    w.advance(1);
    expect(w.due).toEqual(["b"]);
    w.advance(149);
    expect(w.due).toEqual(["b"]);
    w.advance(51);
    expect(w.due).toEqual(["b", "a"]);
    expect(w.deadlines.size).toBe(0);
  });

  it("replaces an item's deadline, and forgets a deleted one", () => {
    const w = wheel();
    w.deadlines.set("a", w.now + 100);
    w.deadlines.set("a", w.now + 500);
    w.deadlines.set("gone", w.now + 100);
    w.deadlines.delete("gone");
    w.advance(300);
    expect(w.due).toEqual([]);
    w.advance(200);
    expect(w.due).toEqual(["a"]);
  });

  it("hands out a deadline in the past at the next tick, and catches up after a stalled loop", () => {
    const w = wheel();
    w.deadlines.set("late", w.now - 10_000);
    w.deadlines.set("soon", w.now + 1_000);
    w.advance(0);
    expect(w.due).toEqual(["late"]);
    w.advance(60_000);
    expect(w.due).toEqual(["late", "soon"]);
  });

  it("lets onDue schedule the item again, for a later step", () => {
    let now = 0;
    const seen: number[] = [];
    const d: Deadlines<string> = new Deadlines<string>(
      (item) => {
        seen.push(now);
        if (seen.length === 1) d.set(item, now + 300);
      },
      100,
      () => now,
    );
    d.set("x", 200);
    now = 200;
    d.tick();
    now = 1_000;
    d.tick();
    expect(seen).toEqual([200, 1_000]);
  });
});
