/**
 * Message history pages, by (conversation, seq) with a cursor, never an offset. Read through the
 * {@link MessageReader}, like `sync`: each message in its latest state (edits, deletes, reactions), and
 * the newest ones from Redis, so a message is in history as soon as it is acknowledged, before the
 * worker stored it.
 */
import type { MessageReader } from "@parley/shared/messages/message-reader";
import type { Message } from "@parley/protocol";

/** Which page to read. */
export interface HistoryPageQuery {
  /** Only messages with a smaller seq; the newest ones when absent. */
  before?: number | undefined;
  /** Most messages in the page. */
  limit: number;
}

/** One page of history. */
export interface HistoryPage {
  /** Ascending by seq. */
  messages: Message[];
  /** The `before` of the next (older) page: the smallest seq returned, or null when nothing is older. */
  nextBefore: number | null;
}

/** Reads the page of `conversationId`'s messages just below `before`. */
export async function readHistory(
  reader: MessageReader,
  conversationId: string,
  { before, limit }: HistoryPageQuery,
): Promise<HistoryPage> {
  const { messages, hasOlder } = await reader.before(conversationId, before, limit);
  return { messages, nextBefore: hasOlder ? messages[0]!.seq : null };
}
