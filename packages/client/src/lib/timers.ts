/**
 * Every timer of one client in one place, so that `dispose()` can stop them all at once.
 */

/** Timers that can all be cancelled together. */
export interface Timers {
  /** Runs `fn` after `ms`; returns the function that cancels it. */
  set(fn: () => void, ms: number): () => void;
  /** Resolves after `ms`, unless the timers are cleared first (then it never resolves). */
  sleep(ms: number): Promise<void>;
  /** Cancels every pending timer; later `set` calls are ignored. */
  clear(): void;
}

/** A fresh set of {@link Timers} on the global `setTimeout` (which fake timers replace in tests). */
export function createTimers(): Timers {
  const pending = new Set<ReturnType<typeof setTimeout>>();
  let cleared = false;
  const set = (fn: () => void, ms: number): (() => void) => {
    if (cleared) return () => {};
    const handle = setTimeout(() => {
      pending.delete(handle);
      fn();
    }, ms);
    pending.add(handle);
    return () => {
      clearTimeout(handle);
      pending.delete(handle);
    };
  };
  return {
    set,
    sleep: (ms) => new Promise((resolve) => void set(resolve, ms)),
    clear() {
      cleared = true;
      for (const handle of pending) clearTimeout(handle);
      pending.clear();
    },
  };
}
