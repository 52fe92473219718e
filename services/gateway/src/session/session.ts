/**
 * What happens when a socket connects: it joins its user's room and the rooms of every conversation of
 * the user, then gets `session:ready`.
 */
import { PROTOCOL_VERSION } from "@parley/protocol";
import { conversationRoom, userRoom } from "@parley/shared/events";
import type { Logger } from "@parley/shared/logger";
import type { ConversationCache } from "@parley/shared/messages/conversation-cache";

import type { GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";

export interface SessionDeps {
  node: string;
  /** The user's conversations come from its Redis index (MongoDB on a miss). */
  cache: Pick<ConversationCache, "conversationsOf">;
  /** Their `onSession` hooks run once the rooms are joined, before `session:ready`. */
  features: readonly GatewayFeature[];
  log: Logger;
}

const LOOKUP_ATTEMPTS = 3;

/**
 * Joins the user room before reading the user's conversations: a conversation created meanwhile is
 * either in the read, or its `socketsJoin` (sent by the API to the user room) reaches this socket.
 */
export async function startSession(socket: GatewaySocket, { node, cache, features, log }: SessionDeps): Promise<void> {
  const { userId } = socket.data;
  const started = performance.now();
  await socket.join(userRoom(userId));
  let conversationIds: string[] | undefined;
  for (let attempt = 1; conversationIds === undefined; attempt++) {
    try {
      conversationIds = await cache.conversationsOf(userId);
    } catch (err) {
      if (attempt >= LOOKUP_ATTEMPTS) throw err;
      log.warn({ err, attempt, userId }, "conversation lookup failed, retrying");
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  if (socket.disconnected) {
    log.debug("socket left during session setup");
    return;
  }
  await socket.join(conversationIds.map(conversationRoom));
  for (const feature of features) {
    try {
      await feature.onSession?.(socket, conversationIds);
    } catch (err) {
      log.error({ err, feature: feature.name }, "session hook failed");
    }
  }
  if (socket.disconnected) {
    log.debug("socket left during session setup");
    return;
  }
  socket.emit("session:ready", {
    userId,
    node,
    sessionId: socket.data.sessionId,
    expiresAt: new Date(socket.data.expiresAt).toISOString(),
    protocol: PROTOCOL_VERSION,
  });
  log.debug({ conversations: conversationIds.length, ms: Math.round(performance.now() - started) }, "session ready");
}
