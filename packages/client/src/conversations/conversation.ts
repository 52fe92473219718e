/**
 * The `Conversation` handle apps hold: the stores and actions of one conversation. Handles on the same
 * id share one state; `release()` gives a handle back.
 */
import type { Message } from "@parley/protocol";

import { newLocalAttachment, type SendFileInput } from "../attachments/local-attachment.js";
import type { Outbox } from "../outbox/outbox.js";
import { newClientMsgId, type LocalMessage, type SendInput } from "../outbox/local-message.js";
import type { ReceiptSender } from "../receipts/receipt-sender.js";
import type { Store } from "../store.js";
import type { Requester } from "../transport/requests.js";
import type { ConversationState, MessagesSnapshot, ReceiptsSnapshot } from "./conversation-state.js";
import type { Discontinuity } from "./sync.js";

/** One conversation, as an app uses it. Every store's snapshot changes by reference. */
export interface Conversation {
  /** The conversation id. */
  readonly id: string;
  /** Confirmed messages (`items`, with `state` for this client's own), the pending tail, and the recovery pointers. */
  readonly messages: Store<MessagesSnapshot>;
  /** Read and delivered pointers of every member, and this user's unread count. */
  readonly receipts: Store<ReceiptsSnapshot>;
  /** Ids of the other users typing now. */
  readonly typing: Store<readonly string[]>;
  /**
   * Queues a message and returns it at once (`state: "pending"`). It moves from `pending` to `items`
   * when the server acknowledges it (`state: "sent"`, then `"persisted"`), or stays in `pending` as
   * `failed` when the server refuses it for good. Offline, it waits in the outbox.
   */
  send(input: SendInput): LocalMessage;
  /**
   * Queues a message with `file` (a `File` or any `Blob`) and an optional caption, and returns it at
   * once (`state: "pending"`), like `send`. Its `attachments` hold the local preview (name, size,
   * contentType, kind guessed from the type, the file itself) and the upload's `progress`, 0 to 1. In
   * its turn in the outbox the SDK creates the attachment, uploads the bytes straight to the object
   * store, then sends the message; a retry resumes where it stopped, without uploading again.
   */
  sendFile(file: Blob, input?: SendFileInput): LocalMessage;
  /** `send` with `replyToId`. */
  reply(replyToId: string, input: Omit<SendInput, "replyToId">): LocalMessage;
  /** Sends a `failed` message again, with the same `clientMsgId`. */
  retry(clientMsgId: string): void;
  /** Removes a pending or failed message from the outbox. */
  discard(clientMsgId: string): void;
  /** Edits one of this user's messages; resolves with its new state. */
  edit(id: string, content: string): Promise<Message>;
  /** Deletes one of this user's messages; resolves with its deleted state. */
  remove(id: string): Promise<Message>;
  /** Toggles this user's reaction; `added` says which way. Not idempotent: do not retry blindly. */
  react(id: string, emoji: string): Promise<{ message: Message; added: boolean }>;
  /** Loads the page of history before the oldest message held; resolves with whether there is more. */
  loadOlder(limit?: number): Promise<boolean>;
  /**
   * Syncs with the server now (also done after every `session:ready` and on a gap). `recovered: false`:
   * some messages cannot be read right now; the SDK retries with backoff.
   */
  sync(): Promise<{ recovered: boolean }>;
  /** Calls `listener` when the timeline may differ from the server's (see {@link Discontinuity}). */
  onDiscontinuity(listener: (d: Discontinuity) => void): () => void;
  /** This user has seen messages up to `seq` (debounced 500 ms, only the highest, never backwards). */
  markRead(seq: number): void;
  /** A key was pressed: `typing:start`, at most every 3 s; stops by itself after 5 s without keys. */
  keystroke(): void;
  /** This user stopped typing. */
  stopTyping(): void;
  /** Gives this handle back; the state is freed 100 ms after the last handle. Idempotent. */
  release(): void;
}

/** What a handle needs besides its state. */
export interface HandleDeps {
  state: ConversationState;
  outbox: Outbox;
  receipts: ReceiptSender;
  request: Requester;
  selfId: () => string | undefined;
  /** A new state of a message from an ack: to the timeline and the list. */
  onChanged: (message: Message) => void;
  release: () => void;
}

/** A new handle on `state`. */
export function createConversationHandle({ state, outbox, receipts, request, selfId, onChanged, release }: HandleDeps): Conversation {
  const id = state.id;
  let released = false;
  const queue = (input: Required<Pick<SendInput, "content" | "type">> & Pick<SendInput, "replyToId"> & Pick<LocalMessage, "attachments">): LocalMessage => {
    const self = selfId();
    const message: LocalMessage = {
      clientMsgId: newClientMsgId(),
      conversationId: id,
      content: input.content,
      type: input.type,
      ...(input.replyToId !== undefined && { replyToId: input.replyToId }),
      ...(input.attachments && { attachments: input.attachments }),
      ...(self !== undefined && { senderId: self }),
      state: "pending",
      queuedAt: outbox.nextQueuedAt(),
    };
    state.typing.stop();
    outbox.add(message);
    return message;
  };
  const send = (input: SendInput): LocalMessage => queue({ ...input, type: input.type ?? "text" });
  const changed = async (p: Promise<{ message: Message }>): Promise<Message> => {
    const { message } = await p;
    onChanged(message);
    return message;
  };
  return {
    id,
    messages: state.messages,
    receipts: state.receipts,
    typing: state.typing.users,
    send,
    sendFile: (file, input = {}) => {
      const attachment = newLocalAttachment(file, input);
      const type = input.type ?? (attachment.kind === "image" ? "image" : "file");
      return queue({ content: input.caption ?? "", type, replyToId: input.replyToId, attachments: [attachment] });
    },
    reply: (replyToId, input) => send({ ...input, replyToId }),
    retry: (clientMsgId) => outbox.retry(clientMsgId),
    discard: (clientMsgId) => outbox.discard(clientMsgId),
    edit: (messageId, content) => changed(request("message:edit", { conversationId: id, messageId, content })),
    remove: (messageId) => changed(request("message:delete", { conversationId: id, messageId })),
    react: async (messageId, emoji) => {
      const res = await request("message:react", { conversationId: id, messageId, emoji });
      onChanged(res.message);
      return { message: res.message, added: res.added };
    },
    loadOlder: (limit) => state.loadOlder(limit),
    sync: () => state.sync(),
    onDiscontinuity: (listener) => state.discontinuities.on("discontinuity", listener),
    markRead: (seq) => {
      if (Number.isInteger(seq) && seq > 0) receipts.want("read", id, seq);
    },
    keystroke: () => state.typing.keystroke(),
    stopTyping: () => state.typing.stop(),
    release: () => {
      if (released) return;
      released = true;
      release();
    },
  };
}
