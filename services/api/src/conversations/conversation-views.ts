/**
 * Conversations as one member sees them in listings: each with the caller's unread count and every
 * current member's delivery and read pointers, read from Redis in one pipeline for the whole listing.
 */
import { conversationToWire, type ConversationDoc } from "@parley/shared/models";
import { PointerStore, unreadCount, type PointerSnapshot, type PointerStoreDeps } from "@parley/shared/messages/pointers";
import type { Conversation, ConversationView } from "@parley/protocol";

export class ConversationViews {
  private readonly pointers: PointerStore;

  constructor(deps: PointerStoreDeps) {
    this.pointers = new PointerStore(deps);
  }

  /**
   * The views of `docs` for member `callerId`, in the order given. Conversations whose state Redis does
   * not hold are loaded into it first (their pointers come back from MongoDB).
   */
  async forMember(docs: readonly ConversationDoc[], callerId: string): Promise<ConversationView[]> {
    if (docs.length === 0) return [];
    const conversations = docs.map(conversationToWire);
    const snapshots = await this.pointers.snapshots(conversations.map((c) => c.id));
    return conversations.map((conversation) => toConversationView(conversation, snapshots.get(conversation.id)!, callerId));
  }
}

/**
 * One conversation's view for `callerId`, from its pointer state. Pointers are listed for the current
 * members only (0 for a member without one); those of former members stay in Redis but are not shown.
 */
export function toConversationView(conversation: Conversation, state: PointerSnapshot, callerId: string): ConversationView {
  const pointersOf = (hash: Readonly<Record<string, number>>) =>
    Object.fromEntries(conversation.members.map((member) => [member, hash[member] ?? 0]));
  return {
    ...conversation,
    unreadCount: unreadCount(state.seq, state.read[callerId]),
    readPointers: pointersOf(state.read),
    deliveredPointers: pointersOf(state.delivered),
  };
}
