/**
 * What the realtime core needs from the REST API: the conversation list and history pages. One small
 * module, so that the rest of the realtime core never speaks HTTP.
 */
import type { ConversationView, Message } from "@parley/protocol";

import type { RestClient } from "../rest.js";

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

/** {@link ConversationsApi} on the typed REST client. */
export function restConversationsApi(rest: RestClient): ConversationsApi {
  return {
    list: async () => (await rest.call("conversations.list", {})).conversations,
    history: (id, query) => rest.call("messages.history", { params: { id }, query }),
  };
}
