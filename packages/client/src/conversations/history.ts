/**
 * What the realtime core needs from the REST API: the conversation list and history pages. One small
 * module, so that the rest of the SDK never speaks HTTP.
 */
import type { ConversationView, Message } from "@parley/protocol";

/** A page of history: ascending seq; `nextBefore` is the cursor of the older page, null at the start. */
export interface HistoryPage {
  messages: Message[];
  nextBefore: number | null;
}

/** The REST calls of the realtime core. */
export interface ConversationsApi {
  /** `GET /api/conversations`: the caller's conversations, most recent activity first. */
  list(): Promise<ConversationView[]>;
  /** `GET /api/conversations/:id/messages?before=&limit=`: the page of messages with seq < `before`. */
  history(conversationId: string, query: { before?: number; limit?: number }): Promise<HistoryPage>;
}

/** The part of the REST client these calls use. */
export interface ConversationsRest {
  call(route: "conversations.list", input: Record<string, never>): Promise<{ conversations: ConversationView[] }>;
  call(
    route: "messages.history",
    input: { params: { id: string }; query: { before?: number; limit?: number } },
  ): Promise<HistoryPage>;
}

/** {@link ConversationsApi} on the typed REST client. */
export function restConversationsApi(rest: ConversationsRest): ConversationsApi {
  return {
    list: async () => (await rest.call("conversations.list", {})).conversations,
    history: (id, query) => rest.call("messages.history", { params: { id }, query }),
  };
}
