/**
 * Where the outbox keeps unsent messages, so that they survive a page reload or an app restart.
 */
import type { LocalMessage } from "./local-message.js";

/**
 * Durable storage of the outbox, keyed by `clientMsgId`. The SDK writes every change in order and
 * loads everything once, when a client is created.
 */
export interface OutboxStorage {
  /** Every stored message (any order: the SDK sorts by `queuedAt`). */
  load(): Promise<LocalMessage[]>;
  /** Stores `message`, replacing the one with the same `clientMsgId`. */
  put(message: LocalMessage): Promise<void>;
  /** Removes the message with `clientMsgId`; a no-op when there is none. */
  delete(clientMsgId: string): Promise<void>;
}

/**
 * Storage in memory: messages survive a reconnect, and a new client created on the same storage, but
 * not the end of the process (or page). The default.
 */
export function memoryStorage(): OutboxStorage {
  const messages = new Map<string, LocalMessage>();
  return {
    load: () => Promise.resolve([...messages.values()]),
    put: (message) => {
      messages.set(message.clientMsgId, message);
      return Promise.resolve();
    },
    delete: (clientMsgId) => {
      messages.delete(clientMsgId);
      return Promise.resolve();
    },
  };
}
