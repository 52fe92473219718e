import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { Batcher, type ItemOutcome, type WriteBatch } from "./batcher.js";

/** A write function that records its batches and answers each item with `outcome(item)`. */
function recorder<T>(outcome: (item: T) => ItemOutcome<string> = (item) => ({ ok: true, value: `stored ${String(item)}` })) {
  const batches: T[][] = [];
  const write: WriteBatch<T, string> = async (items) => {
    batches.push([...items]);
    return items.map(outcome);
  };
  return { batches, write };
}

/** A write function whose calls stay pending until the test releases them. */
function gate<T>() {
  const calls: { items: readonly T[]; release: () => void }[] = [];
  const write: WriteBatch<T, void> = (items) =>
    new Promise((resolve) => {
      calls.push({ items, release: () => resolve(items.map(() => ({ ok: true, value: undefined }))) });
    });
  return { calls, write };
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe("Batcher", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes a batch as soon as it reaches maxSize, without waiting", async () => {
    const { batches, write } = recorder<number>();
    const batcher = new Batcher({ maxSize: 3, maxWaitMs: 60_000, write });

    const results = Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    const fourth = track(batcher.add(4));

    expect(await results).toEqual(["stored 1", "stored 2", "stored 3"]);
    expect(batches).toEqual([[1, 2, 3]]);
    await vi.advanceTimersByTimeAsync(0);
    expect(fourth.settled).toBe(false);
    expect(batcher.size).toBe(1);
  });

  it("writes a partial batch maxWaitMs after its first item", async () => {
    const { batches, write } = recorder<string>();
    const batcher = new Batcher({ maxSize: 100, maxWaitMs: 20, write });

    const a = track(batcher.add("a"));
    await vi.advanceTimersByTimeAsync(15);
    const b = track(batcher.add("b"));
    await vi.advanceTimersByTimeAsync(4);
    expect(batches).toEqual([]);
    expect(a.settled || b.settled).toBe(false);

    // 20 ms after the *first* item, not the last.
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([["a", "b"]]);
    expect(a.value).toBe("stored a");
    expect(b.value).toBe("stored b");

    const c = track(batcher.add("c"));
    await vi.advanceTimersByTimeAsync(20);
    expect(batches).toEqual([["a", "b"], ["c"]]);
    expect(c.value).toBe("stored c");
  });

  it("fails a bad item alone and stores the rest of its batch", async () => {
    const { batches, write } = recorder<number>((n) =>
      n === 2 ? { ok: false, error: new Error("seq taken") } : { ok: true, value: `stored ${n}` },
    );
    const batcher = new Batcher({ maxSize: 3, maxWaitMs: 20, write });

    const results = await Promise.allSettled([batcher.add(1), batcher.add(2), batcher.add(3)]);

    expect(batches).toEqual([[1, 2, 3]]);
    expect(results[0]).toEqual({ status: "fulfilled", value: "stored 1" });
    expect(results[1]).toMatchObject({ status: "rejected", reason: { message: "seq taken" } });
    expect(results[2]).toEqual({ status: "fulfilled", value: "stored 3" });
  });

  it("rejects every item of a batch whose write throws, and keeps working afterwards", async () => {
    let down = true;
    const write: WriteBatch<number, number> = async (items) => {
      if (down) throw new Error("mongodb unavailable");
      return items.map((n) => ({ ok: true, value: n * 10 }));
    };
    const batcher = new Batcher({ maxSize: 2, maxWaitMs: 20, write });

    const failed = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(failed[0]).toMatchObject({ reason: { message: "mongodb unavailable" } });

    down = false;
    expect(await Promise.all([batcher.add(1), batcher.add(2)])).toEqual([10, 20]);
  });

  it("rejects the batch when the write returns the wrong number of outcomes", async () => {
    const batcher = new Batcher<number>({ maxSize: 2, maxWaitMs: 20, write: async () => [{ ok: true, value: undefined }] });
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("starts the next batch while the previous one is still being written", async () => {
    const { calls, write } = gate<number>();
    const batcher = new Batcher({ maxSize: 2, maxWaitMs: 20, write });

    const first = Promise.all([batcher.add(1), batcher.add(2)]);
    const second = Promise.all([batcher.add(3), batcher.add(4)]);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4]]);
    expect(batcher.writing).toBe(2);

    calls[1]!.release();
    await second;
    calls[0]!.release();
    await first;
    expect(batcher.writing).toBe(0);
  });

  it("flush() writes the filling batch now and waits for the writes in flight", async () => {
    const { calls, write } = gate<number>();
    const batcher = new Batcher({ maxSize: 2, maxWaitMs: 60_000, write });

    const full = track(Promise.all([batcher.add(1), batcher.add(2)]));
    const partial = track(batcher.add(3));
    const flushed = track(batcher.flush());

    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3]]);
    calls[1]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(partial.settled).toBe(true);
    expect(flushed.settled).toBe(false);

    calls[0]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(full.settled).toBe(true);
    expect(flushed.settled).toBe(true);
  });

  it("close() writes the filling batch at once, then writes later items without waiting", async () => {
    const { batches, write } = recorder<string>();
    const batcher = new Batcher({ maxSize: 100, maxWaitMs: 60_000, write });

    const early = track(batcher.add("early"));
    await batcher.close();
    expect(batches).toEqual([["early"]]);
    expect(early.value).toBe("stored early");

    // A job the queue consumer had already fetched when it started closing.
    const late = batcher.add("late");
    await vi.advanceTimersByTimeAsync(0);
    expect(await late).toBe("stored late");
    expect(batches).toEqual([["early"], ["late"]]);
  });

  it("close() with nothing pending resolves at once", async () => {
    const { batches, write } = recorder<number>();
    await new Batcher({ maxSize: 10, maxWaitMs: 20, write }).close();
    expect(batches).toEqual([]);
  });

  it("refuses nonsensical options", () => {
    const { write } = recorder<number>();
    expect(() => new Batcher({ maxSize: 0, maxWaitMs: 20, write })).toThrow(RangeError);
    expect(() => new Batcher({ maxSize: 10, maxWaitMs: -1, write })).toThrow(RangeError);
    expect(() => new Batcher({ maxSize: 10, maxWaitMs: 20, maxConcurrentWrites: 0, write })).toThrow(RangeError);
  });

  it("with maxConcurrentWrites, lets a due batch keep filling until a write finishes, then writes it whole", async () => {
    const { calls, write } = gate<number>();
    const batcher = new Batcher({ maxSize: 100, maxWaitMs: 10, maxConcurrentWrites: 1, write });

    const first = track(batcher.add(1));
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.items)).toEqual([[1]]);

    const later = [2, 3].map((n) => track(batcher.add(n)));
    await vi.advanceTimersByTimeAsync(50);
    later.push(track(batcher.add(4)));
    await vi.advanceTimersByTimeAsync(50);
    // Due for a while, but the first write is still running: one write at a time.
    expect(calls).toHaveLength(1);

    calls[0]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(first.settled).toBe(true);
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    expect(later.some((t) => t.settled)).toBe(false);

    calls[1]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(later.every((t) => t.settled)).toBe(true);
  });

  it("with maxConcurrentWrites, never writes more than maxSize items in one batch, and flush() writes them all", async () => {
    const { calls, write } = gate<number>();
    const batcher = new Batcher({ maxSize: 2, maxWaitMs: 10, maxConcurrentWrites: 1, write });

    const items = [1, 2, 3, 4, 5].map((n) => track(batcher.add(n)));
    const flushed = track(batcher.flush());
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(0);
      calls[i]!.release();
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
    expect(items.every((t) => t.settled)).toBe(true);
    expect(flushed.settled).toBe(true);
  });
});
