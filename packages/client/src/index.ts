/**
 * @parley/client: the parley SDK for browsers and Node.js. One client per user holds the connection,
 * a durable outbox, gap-free recovery, receipts, typing, presence and call signaling as stores
 * (`useSyncExternalStore(store.subscribe, store.get)` in React), plus a typed REST client and a
 * ready-made session token provider.
 *
 * @example
 * const auth = createSessionAuth({ url });
 * await auth.login({ username, password });
 * const client = createClient({ url, getToken: auth.getToken, storage: indexedDbStorage() });
 * await client.connect();
 * const chat = client.conversation(conversationId);
 * chat.messages.subscribe(() => render(chat.messages.get()));
 * chat.send({ content: "hello" });
 * chat.sendFile(file, { caption: "the view" });
 */

// The client
export { createClient, type ParleyClient } from "./client.js";
export type { ClientOptions, RealtimeClient } from "./client-core.js";
export type { ConnectionSnapshot, ConnectionState } from "./connection/connection.js";
export type { TokenProvider } from "./connection/token-source.js";

// State
export { createStore, type Store, type WritableStore } from "./store.js";

// Conversations
export type { Conversation } from "./conversations/conversation.js";
export type { MessagesSnapshot, ReceiptsSnapshot } from "./conversations/conversation-state.js";
export type { Discontinuity } from "./conversations/sync.js";
export type { TimelineMessage } from "./conversations/timeline.js";
export type { ConversationList } from "./conversation-list/conversation-list.js";

// Attachments
export type { Attachments, AttachmentUrlOptions } from "./attachments/attachment-links.js";
export type { AttachmentVariant } from "./attachments/attachments-api.js";
export type { LocalAttachment, SendFileInput } from "./attachments/local-attachment.js";

// Outbox
export type { LocalMessage, SendInput, SendState } from "./outbox/local-message.js";
export { memoryStorage, type OutboxStorage } from "./outbox/storage.js";
export { hasIndexedDb, indexedDbStorage } from "./outbox/indexeddb-storage.js";

// Presence and calls
export type { PresenceHandle, PresenceMap } from "./presence/presence.js";
export { CALL_EVENTS, type CallEvent, type CallPayload, type Calls } from "./calls/calls.js";

// Errors
export { ParleyError, toParleyError } from "./errors.js";

// Transport seam
export type {
  ClientSocket,
  HandshakeAuth,
  NoAnswerReason,
  SocketEvents,
  SocketFactory,
  SocketFactoryOptions,
  SocketIoOptions,
  SocketLifecycleEvents,
} from "./transport/socket.js";
export { NoAnswerError, socketIoFactory } from "./transport/socket.js";
export type { BackoffOptions } from "./lib/backoff.js";
export type { Logger } from "./lib/logger.js";

// REST and sessions
export { createRestClient, type RestClient, type RestClientOptions, type TokenHint } from "./rest.js";
export {
  createSessionAuth,
  localStorageTokens,
  memoryTokens,
  type SessionAuth,
  type SessionAuthOptions,
  type SessionInfo,
  type StoredSession,
  type TokenStorage,
} from "./auth.js";

// The protocol types an app meets
export type { Attachment, AttachmentKind, ConversationView, Message, Presence, SyncResult, ServerToClientEvents, ClientToServerEvents } from "@parley/protocol";
