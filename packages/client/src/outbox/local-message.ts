/**
 * A message as the sender's client knows it, before and after the server numbered it.
 */
import type { Message } from "@parley/protocol";

import type { LocalAttachment } from "../attachments/local-attachment.js";
import type { ParleyError } from "../errors.js";

/**
 * Where a message of this client is: `pending` (queued or in flight), `sent` (acknowledged: it has an
 * `id` and a `seq` and will not be lost), `persisted` (stored in the database), `failed` (refused for
 * good: see `error`, then `retry` or `discard` it).
 */
export type SendState = "pending" | "sent" | "persisted" | "failed";

/** A message this client sends: the draft, its `clientMsgId`, and the server's fields once acknowledged. */
export interface LocalMessage extends Partial<Omit<Message, "attachments">> {
  /** The client's id of the message, the same on every resend: the server deduplicates on it. */
  clientMsgId: string;
  conversationId: string;
  content: string;
  type: Message["type"];
  state: SendState;
  /** Why it failed (`failed`), or the last retryable error while it is still `pending`. */
  error?: ParleyError;
  /** When it was queued (ms since the epoch); strictly increasing per client: the send order. */
  queuedAt: number;
  /** Its files (`sendFile`): the local preview, the upload's progress, and the steps done. */
  attachments?: readonly LocalAttachment[];
}

/** What `Conversation.send` takes. */
export interface SendInput {
  content: string;
  /** @default "text" */
  type?: Message["type"];
  /** The message this one replies to (same conversation). */
  replyToId?: string;
}

/**
 * A new id for a message: `crypto.randomUUID()`, or, where it is missing (pages not served over
 * HTTPS), a UUID v4 built from `crypto.getRandomValues`.
 */
export function newClientMsgId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
