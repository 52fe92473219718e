/**
 * The client's wiring: one socket with its listeners added once, the connection state machine, and
 * the subsystems it resumes at every `session:ready` (outbox, conversation list, open conversations,
 * presence, receipts). `createClient` (client.ts) adds the REST client on top.
 */
import type { ConversationView, Message } from "@parley/protocol";

import { AttachmentLinks, type Attachments } from "./attachments/attachment-links.js";
import { sendWithAttachments } from "./attachments/attachment-sender.js";
import type { AttachmentsApi } from "./attachments/attachments-api.js";
import { putFile } from "./attachments/put-file.js";
import { createCalls, CALL_EVENTS, type CallPayload, type Calls } from "./calls/calls.js";
import { IceServers, type CallsApi } from "./calls/ice-servers.js";
import { Connection, type ConnectionSnapshot } from "./connection/connection.js";
import { createTokenSource, DisposedError, type TokenProvider, type TokenSource } from "./connection/token-source.js";
import { ConversationListState, type ConversationList } from "./conversation-list/conversation-list.js";
import { createConversationHandle, type Conversation } from "./conversations/conversation.js";
import { ConversationState } from "./conversations/conversation-state.js";
import type { ConversationsApi } from "./conversations/history.js";
import { asDeleted, newerOf, withReaction } from "./conversations/timeline.js";
import type { BackoffOptions } from "./lib/backoff.js";
import { silentLogger, type Logger } from "./lib/logger.js";
import { RefCounted } from "./lib/refcount.js";
import { createTimers } from "./lib/timers.js";
import type { LocalMessage } from "./outbox/local-message.js";
import { Outbox } from "./outbox/outbox.js";
import { memoryStorage, type OutboxStorage } from "./outbox/storage.js";
import { PresenceTracker, type PresenceHandle } from "./presence/presence.js";
import { ReceiptSender } from "./receipts/receipt-sender.js";
import type { Store } from "./store.js";
import { createRequester, DEFAULT_ACK_TIMEOUT_MS } from "./transport/requests.js";
import { socketIoFactory, type SocketEvents, type SocketFactory, type SocketIoOptions } from "./transport/socket.js";

/** Options of `createClient`. */
export interface ClientOptions {
  /** The parley origin, e.g. `https://chat.example.com` (Socket.IO at `/socket.io/`, REST under `/api/`). */
  url: string;
  /**
   * Resolves with a current access token; called single-flight, before every handshake and when the
   * server warns that the socket's token expires. Throw a {@link ParleyError} that is not retryable
   * (`SESSION_REVOKED`, `AUTH_REQUIRED`…) to stop: the connection goes `failed`.
   */
  getToken: TokenProvider;
  /** Where unsent messages are kept. @default memoryStorage() */
  storage?: OutboxStorage;
  /** Socket.IO transports, in order of preference. @default ["polling", "websocket"] (Socket.IO's) */
  transports?: SocketIoOptions["transports"];
  /** More socket.io-client options (reconnection delays, path…). `auth`, `autoConnect` and `forceNew` are the SDK's. */
  socketOptions?: SocketIoOptions;
  /** Where the SDK reports what it does (`console` fits). @default silent */
  logger?: Logger;
  /** How long a request waits for its acknowledgement, in milliseconds. @default 10000 */
  ackTimeoutMs?: number;
  /** Bounds of every retry backoff (full jitter). @default { baseMs: 500, maxMs: 30000 } */
  backoff?: BackoffOptions;
  /** The socket implementation: socket.io-client. A seam for tests and custom transports. */
  createSocket?: SocketFactory;
}

/** A parley client for one user: create one, outside any UI component, and `dispose()` it at logout. */
export interface RealtimeClient {
  /** Where the connection is (`idle`, `connecting`, `ready`, `reconnecting`, `failed`, `disposed`). */
  readonly connection: Store<ConnectionSnapshot>;
  /**
   * Connects, and resolves at `session:ready`. Idempotent: concurrent and repeated calls share the
   * attempt. Rejects when the connection fails (the user must act; call it again after) or is disposed.
   */
  connect(): Promise<void>;
  /** A handle on conversation `id`; handles on one id share one state. `release()` each one. */
  conversation(id: string): Conversation;
  /** The conversation list, most recent activity first. */
  readonly conversations: ConversationList;
  /** Every message not acknowledged yet (pending or failed), of every conversation, in send order. */
  readonly outbox: Store<readonly LocalMessage[]>;
  /** A store of the presence of `userIds`; `release()` it when they are no longer shown. */
  presence(userIds: readonly string[]): PresenceHandle;
  /** Call signaling. */
  readonly calls: Calls;
  /** Download URLs of attachments. */
  readonly attachments: Attachments;
  /** Closes the socket and frees every timer and listener; pending messages stay in the storage. */
  dispose(): Promise<void>;
}

/** The REST calls the realtime client needs. */
export type CoreApi = ConversationsApi & AttachmentsApi & CallsApi;

/** Builds the realtime client on `api` (the REST calls it needs) and `tokens`. */
export function buildRealtimeClient(options: ClientOptions, api: CoreApi, tokens: TokenSource = createTokenSource(options.getToken)): RealtimeClient {
  const timers = createTimers();
  const logger = options.logger ?? silentLogger;
  const random = Math.random;
  const backoff = options.backoff ?? {};
  const connection = new Connection({
    url: options.url,
    tokens,
    createSocket: options.createSocket ?? socketIoFactory,
    socketOptions: { ...options.socketOptions, ...(options.transports && { transports: options.transports }) },
    timers,
    logger,
    backoff,
    random,
  });
  const socket = connection.socket;
  const request = createRequester(socket, options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS);
  connection.bind(request);
  const isReady = (): boolean => connection.ready;
  const selfId = (): string | undefined => connection.userId;
  const common = { timers, logger, random, backoff, isReady };

  const conversations = new RefCounted<string, ConversationState>(
    timers,
    (id) => new ConversationState({ ...common, id, selfId, request, volatile: socket.volatile.bind(socket), api, outbox, receipts, list }),
    (state) => state.destroy(),
  );
  const list = new ConversationListState({ ...common, api, selfId, onLoaded: (views) => onListed(views) });
  const receipts = new ReceiptSender({
    ...common,
    request,
    onAck: (kind, conversationId, seq) => {
      const userId = selfId();
      if (userId !== undefined) list.pointer(kind, { conversationId, userId, seq });
    },
  });
  const outbox = new Outbox({
    ...common,
    storage: options.storage ?? memoryStorage(),
    send: (m, context) => {
      const emit = async (local: LocalMessage, attachmentIds?: string[]): Promise<Message> => {
        const { message } = await request("message:send", {
          conversationId: local.conversationId,
          clientMsgId: local.clientMsgId,
          content: local.content,
          type: local.type,
          ...(local.replyToId !== undefined && { replyToId: local.replyToId }),
          ...(attachmentIds && { attachmentIds }),
        });
        return message;
      };
      return m.attachments?.length ? sendWithAttachments(m, context, { api, put: putFile }, emit) : emit(m);
    },
    onSent: (message) => {
      conversations.get(message.conversationId)?.sent(message);
      list.message(message);
    },
  });
  const presence = new PresenceTracker({ ...common, request });
  const attachments = new AttachmentLinks(api);
  const iceServers = new IceServers(api);
  const { calls, events: callEvents } = createCalls({ request, sleep: (ms) => timers.sleep(ms), ice: iceServers });

  const onListed = (views: readonly ConversationView[]): void => {
    const self = selfId();
    for (const view of views) {
      if (self !== undefined) {
        receipts.known("read", view.id, view.readPointers[self] ?? 0);
        receipts.known("delivered", view.id, view.deliveredPointers[self] ?? 0);
      }
      conversations.get(view.id)?.listed(view);
    }
  };
  const changed = (conversationId: string, id: string, change: (m: Message) => Message): void => {
    list.messageChanged(conversationId, id, change);
  };
  const onChanged = (message: Message): void => {
    conversations.get(message.conversationId)?.updated(message);
    changed(message.conversationId, message.id, (held) => newerOf(held, message));
  };

  // Every socket listener, once for the socket's whole life.
  socket.on("message:new", (message) => {
    list.message(message);
    conversations.get(message.conversationId)?.add(message);
    if (message.senderId !== selfId()) receipts.want("delivered", message.conversationId, message.seq);
  });
  socket.on("message:persisted", (p) => conversations.get(p.conversationId)?.persisted(p));
  socket.on("message:updated", onChanged);
  socket.on("message:deleted", ({ id, conversationId }) => {
    conversations.get(conversationId)?.deleted(id);
    const at = new Date().toISOString();
    changed(conversationId, id, (m) => asDeleted(m, at));
  });
  socket.on("message:reaction", (r) => {
    conversations.get(r.conversationId)?.reaction(r);
    changed(r.conversationId, r.messageId, (m) => withReaction(m, r));
  });
  socket.on("conversation:created", ({ conversation }) => list.created(conversation));
  socket.on("conversation:updated", ({ conversation }) => list.updated(conversation));
  for (const kind of ["delivered", "read"] as const) {
    socket.on(`conversation:${kind}`, (p) => {
      list.pointer(kind, p);
      if (p.userId === selfId()) receipts.known(kind, p.conversationId, p.seq);
    });
  }
  socket.on("typing", ({ conversationId, userId, isTyping }) => conversations.get(conversationId)?.typing.onEvent(userId, isTyping));
  socket.on("presence:update", ({ userId, ...p }) => presence.update(userId, p));
  for (const event of CALL_EVENTS) {
    // One listener shape for nine events: the payload goes through unchanged.
    const forward = (payload: CallPayload<typeof event>): void => callEvents.emit(event, payload as never);
    socket.on(event, forward as SocketEvents[typeof event]);
  }

  connection.on("ready", () => {
    outbox.resume();
    receipts.resume();
    list.resume();
    for (const state of conversations.values()) state.resume();
    presence.resume();
  });
  connection.on("down", () => {
    for (const state of conversations.values()) state.down();
  });

  let disposed: Promise<void> | undefined;
  const live = (): void => {
    if (disposed) throw new DisposedError();
  };
  return {
    connection: connection.state,
    connect: () => connection.connect(),
    conversation(id) {
      live();
      const state = conversations.acquire(id);
      return createConversationHandle({ state, outbox, receipts, request, selfId, onChanged, release: () => conversations.release(id) });
    },
    conversations: list,
    outbox: outbox.messages,
    presence(userIds) {
      live();
      return presence.track(userIds);
    },
    calls,
    attachments,
    dispose() {
      disposed ??= (async () => {
        connection.dispose();
        outbox.dispose();
        list.dispose();
        conversations.clear();
        callEvents.clear();
        iceServers.clear();
        attachments.clear();
        tokens.dispose();
        timers.clear();
        await outbox.flush();
      })();
      return disposed;
    },
  };
}
