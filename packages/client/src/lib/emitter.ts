/**
 * A minimal typed event emitter whose `on` returns the function that removes the listener.
 */

/** Listener maps: event name → listener signature. */
export type Listeners = { [event: string]: (...args: never[]) => void };

/** A typed emitter; a listener that throws does not stop the others. */
export class Emitter<L extends Listeners> {
  private readonly listeners = new Map<keyof L, Set<L[keyof L]>>();

  /** Calls `listener` on every `event`; returns the function that stops it. */
  on<E extends keyof L>(event: E, listener: L[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Calls every listener of `event` with `args`. */
  emit<E extends keyof L>(event: E, ...args: Parameters<L[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<L[E]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
