/** Sending and changing messages: `message:send`, `message:edit`, `message:delete`, `message:react`. */
import { conversationRoom } from "@parley/shared/events";
import { MessageChanges, emitChange, type MessageChange } from "@parley/shared/messages/message-changes";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewayServer } from "../lib/types.js";

export function messagesFeature({ io, pipeline, cache, redis, keys, queue, attachmentQueue, config, log, onEvent }: FeatureContext): GatewayFeature {
  const changes = new MessageChanges({
    redis,
    keys,
    cache,
    reader: pipeline.reader,
    queue,
    attachmentQueue,
    log,
    publish: (change, exceptSocketId) => publishChange(io, change, exceptSocketId),
    overlayTtlSeconds: config.STREAM_TTL_SECONDS,
  });
  onEvent("message:send", async (socket, payload) => {
    const { message } = await pipeline.send(socket.data.userId, payload, { socketId: socket.id });
    return { message };
  });
  onEvent("message:edit", async (socket, payload) => {
    const { message } = await changes.edit(socket.data.userId, payload, { socketId: socket.id });
    return { message };
  });
  onEvent("message:delete", async (socket, payload) => {
    const { message } = await changes.delete(socket.data.userId, payload, { socketId: socket.id });
    return { message };
  });
  onEvent("message:react", async (socket, payload) => {
    const { message, added } = await changes.react(socket.data.userId, payload, { socketId: socket.id });
    return { message, added };
  });
  return { name: "messages" };
}

/** Sends a change to every socket in its conversation's room, on every node, but the one that made it. */
function publishChange(io: GatewayServer, change: MessageChange, exceptSocketId: string | undefined): void {
  const room = io.to(conversationRoom(change.message.conversationId));
  emitChange(exceptSocketId ? room.except(exceptSocketId) : room, change);
}
