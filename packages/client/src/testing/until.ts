/** Waiting on a store in tests against real servers. */
import type { Store } from "../store.js";

/** Resolves with the store's value once `ok` holds for it; rejects after `ms`, naming `what`. */
export function until<T>(store: Store<T>, ok: (value: T) => boolean, what: string, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(store.get())}`));
    }, ms);
    const check = (): void => {
      if (!ok(store.get())) return;
      off();
      clearTimeout(timer);
      resolve(store.get());
    };
    const off = store.subscribe(check);
    check();
  });
}
