/**
 * State the SDK exposes: a value that changes by reference, and listeners told after each change.
 * Framework-neutral; in React a store is `useSyncExternalStore(store.subscribe, store.get)`.
 */

/** A read-only view of changing state. `get()` returns the same object until the state changes. */
export interface Store<T> {
  /** The current snapshot; never mutated, replaced on change. */
  get(): T;
  /** Calls `listener` after every change; returns the function that stops it. */
  subscribe(listener: () => void): () => void;
}

/** A {@link Store} the SDK writes to. */
export interface WritableStore<T> extends Store<T> {
  /** Replaces the snapshot; listeners run only when `next` is a different object (or value). */
  set(next: T): void;
  /** Replaces the snapshot with `update(current)`. */
  update(update: (current: T) => T): void;
}

/** A store holding `initial`. A listener that throws does not stop the others. */
export function createStore<T>(initial: T): WritableStore<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  const set = (next: T): void => {
    if (Object.is(next, value)) return;
    value = next;
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };
  return {
    get: () => value,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    set,
    update: (update) => set(update(value)),
  };
}
