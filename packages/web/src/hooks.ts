/** React on the SDK: stores, refcounted handles, and the browser's own state. */
import { useEffect, useRef, useState, useSyncExternalStore, type RefObject } from "react";

import { createStore, type ParleyClient, type PresenceMap, type Store } from "@parley/client";

/** The current snapshot of `store`, re-rendering when it changes. */
export function useStore<T>(store: Store<T>): T {
  return useSyncExternalStore(store.subscribe, store.get);
}

/**
 * A handle (`client.conversation(id)`, `client.presence(ids)`) acquired while the component shows `key`
 * and released after; null until the first effect ran. Acquired in an effect, not during render, so that
 * StrictMode's second mount acquires its own instead of reusing a released one.
 */
export function useHandle<T extends { release(): void }>(acquire: () => T, key: string): T | null {
  const [handle, setHandle] = useState<{ key: string; value: T } | null>(null);
  useEffect(() => {
    const value = acquire();
    setHandle({ key, value });
    return () => value.release();
    // `acquire` is a new function every render; `key` says what it acquires.
  }, [key]);
  return handle?.key === key ? handle.value : null;
}

const NO_PRESENCE: Store<PresenceMap> = createStore<PresenceMap>({});

/** The presence of `userIds`, live. */
export function usePresence(client: ParleyClient, userIds: readonly string[]): PresenceMap {
  const ids = [...new Set(userIds)].sort();
  const handle = useHandle(() => client.presence(ids), ids.join(","));
  return useStore(handle ?? NO_PRESENCE);
}

function subscribeOnline(listener: () => void): () => void {
  window.addEventListener("online", listener);
  window.addEventListener("offline", listener);
  return () => {
    window.removeEventListener("online", listener);
    window.removeEventListener("offline", listener);
  };
}

/** Whether the browser believes it has a network (`navigator.onLine`). */
export function useOnline(): boolean {
  return useSyncExternalStore(subscribeOnline, () => navigator.onLine);
}

function subscribeVisibility(listener: () => void): () => void {
  document.addEventListener("visibilitychange", listener);
  return () => document.removeEventListener("visibilitychange", listener);
}

/** Whether the page is visible (not a background tab, not minimised). */
export function useVisible(): boolean {
  return useSyncExternalStore(subscribeVisibility, () => document.visibilityState === "visible");
}

/** A `<dialog>` shown as a modal while `open` (focus trapped, Escape closes it: its `close` event). */
export function useModal(open: boolean): RefObject<HTMLDialogElement | null> {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) el.showModal();
    if (!open && el.open) el.close();
  }, [open]);
  return dialog;
}
