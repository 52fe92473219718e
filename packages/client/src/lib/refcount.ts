/**
 * Shared instances by key, reference-counted, freed a little after their last release, so that a
 * release followed at once by a new acquire (React StrictMode's mount, unmount, mount) keeps the same one.
 */
import type { Timers } from "./timers.js";

/** How long an instance outlives its last release, in milliseconds. */
export const RELEASE_DELAY_MS = 100;

interface Entry<V> {
  value: V;
  refs: number;
  cancelFree?: () => void;
}

/** Instances of `V` by key, created on first acquire and destroyed after the last release. */
export class RefCounted<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly timers: Timers,
    private readonly create: (key: K) => V,
    private readonly destroy: (value: V, key: K) => void,
    private readonly delayMs = RELEASE_DELAY_MS,
  ) {}

  /** The instance of `key`, created when there is none; counts one more reference. */
  acquire(key: K): V {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: this.create(key), refs: 0 };
      this.entries.set(key, entry);
    }
    entry.refs++;
    entry.cancelFree?.();
    entry.cancelFree = undefined;
    return entry.value;
  }

  /** Counts one reference less; the last one frees the instance after the delay. */
  release(key: K): void {
    const entry = this.entries.get(key);
    if (!entry || entry.refs === 0) return;
    entry.refs--;
    if (entry.refs > 0) return;
    entry.cancelFree = this.timers.set(() => {
      if (this.entries.get(key) !== entry || entry.refs > 0) return;
      this.entries.delete(key);
      this.destroy(entry.value, key);
    }, this.delayMs);
  }

  /** The live instance of `key`, if any (acquired, or released less than the delay ago). */
  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Every live instance. */
  values(): V[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  /** Destroys every instance at once. */
  clear(): void {
    for (const [key, entry] of this.entries) {
      entry.cancelFree?.();
      this.destroy(entry.value, key);
    }
    this.entries.clear();
  }
}
