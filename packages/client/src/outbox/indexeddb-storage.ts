/**
 * The outbox in IndexedDB, for browsers: unsent messages survive a reload, a crash or closing the tab.
 */
import type { WireError } from "@parley/protocol";

import { ParleyError } from "../errors.js";
import type { LocalMessage } from "./local-message.js";
import { memoryStorage, type OutboxStorage } from "./storage.js";

const STORE = "outbox";

/** A {@link LocalMessage} as stored: its error as the wire shape (structured clone drops the class). */
export type StoredMessage = Omit<LocalMessage, "error"> & { error?: WireError };

/** `message` as stored. */
export function toStored(message: LocalMessage): StoredMessage {
  const { error, ...rest } = message;
  return error ? { ...rest, error: error.toJSON() } : rest;
}

/** A stored message as a {@link LocalMessage}. */
export function fromStored(stored: StoredMessage): LocalMessage {
  const { error, ...rest } = stored;
  return error ? { ...rest, error: new ParleyError(error) } : rest;
}

/** Whether this environment has IndexedDB. */
export function hasIndexedDb(): boolean {
  return typeof indexedDB !== "undefined" && indexedDB !== null;
}

/**
 * Outbox storage in the IndexedDB database `name` (one object store, keyed by `clientMsgId`). Use one
 * name per user, so that two accounts in one browser never send each other's messages. Where IndexedDB
 * is missing (Node, some private modes), this is {@link memoryStorage}.
 * @param name the database name. @default "parley-outbox"
 */
export function indexedDbStorage(name = "parley-outbox"): OutboxStorage {
  if (!hasIndexedDb()) return memoryStorage();
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: "clientMsgId" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        db = undefined;
        reject(req.error ?? new Error("IndexedDB open failed"));
      };
    }));
  const run = async <T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const tx = (await open()).transaction(STORE, mode);
    const req = act(tx.objectStore(STORE));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    });
  };
  return {
    load: async () => ((await run("readonly", (s) => s.getAll())) as StoredMessage[]).map(fromStored),
    put: async (message) => void (await run("readwrite", (s) => s.put(toStored(message)))),
    delete: async (clientMsgId) => void (await run("readwrite", (s) => s.delete(clientMsgId))),
  };
}
