/**
 * `sync`: what a client missed in one conversation, and whether the answer is exactly that. The rules
 * are pure functions of what {@link MessageReader.after} read, so they are tested without I/O.
 */
import type { SyncPayload, SyncResult } from "@parley/protocol";
import type { MessageReader, MessagesAfter } from "@parley/shared/messages/message-reader";

/**
 * True when `read` is exactly the gap after `afterSeq`: seqs afterSeq + 1, afterSeq + 2… with none
 * missing, and either more follow (a full page) or the last one is the conversation's last seq. A seq
 * neither the stream nor MongoDB holds (not stored yet after the stream dropped it, or lost), or a
 * client ahead of the counter, makes it false.
 */
export function isExactGap(afterSeq: number, read: Pick<MessagesAfter, "messages" | "hasMore" | "lastSeq">): boolean {
  const contiguous = read.messages.every((message, i) => message.seq === afterSeq + 1 + i);
  return contiguous && (read.hasMore || afterSeq + read.messages.length === read.lastSeq);
}

/**
 * True when the client's messages above the current epoch's base belong to a lost epoch: its `epoch`
 * differs from the current one and its `afterSeq` is above the base, so seqs it holds were lost with
 * Redis and are being reused for other messages.
 */
export function heldLostMessages(payload: Pick<SyncPayload, "afterSeq" | "epoch">, current: MessagesAfter["epoch"]): boolean {
  return payload.epoch !== undefined && payload.epoch !== current.id && payload.afterSeq > current.base;
}

/**
 * Answers `sync` for a member. When the client held messages of a lost epoch, the answer starts right
 * after the current epoch's base instead of after `afterSeq`, with `recovered: false`: the client drops
 * what it holds above the base and applies the answer, without another round trip.
 */
export async function syncConversation(reader: MessageReader, payload: SyncPayload): Promise<SyncResult> {
  const { conversationId, afterSeq, limit } = payload;
  const read = await reader.after(conversationId, afterSeq, limit);
  if (heldLostMessages(payload, read.epoch)) {
    const fromBase = await reader.after(conversationId, read.epoch.base, limit);
    return answer(fromBase, false);
  }
  return answer(read, isExactGap(afterSeq, read));
}

function answer({ messages, hasMore, epoch }: MessagesAfter, recovered: boolean): SyncResult {
  return { messages, hasMore, epoch: epoch.id, epochBase: epoch.base, recovered };
}
