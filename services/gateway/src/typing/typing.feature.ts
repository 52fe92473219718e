/**
 * Typing indicators: `typing:start` / `typing:stop` → `typing` to the other members, on every node.
 *
 * The state lives with the socket, on its own node only: a start is announced on the transition (a
 * repeated start just refreshes the timer), a state not refreshed within `TYPING_TIMEOUT_MS` stops by
 * itself, and a disconnect (or a graceful shutdown) stops all of the socket's typing at once. Nothing is
 * stored in Redis, so a crashed gateway leaves clients to expire the indicator themselves (they treat it
 * as stale after 6 s without a refresh).
 *
 * The typer's block peers never hear of it: a start and its stop go to the conversation's room except
 * their user rooms, read when the start is announced.
 */
import { conversationRoom, userRoom } from "@parley/shared/events";
import { ForbiddenError } from "@parley/shared/errors";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";

/** A socket typing in one conversation. */
interface TypingIn {
  /** Stops the typing state. */
  timer: NodeJS.Timeout;
  /** The user rooms of the typer's block peers: the start's and the stop's audience leaves them out. */
  hidden: readonly string[];
}

interface SocketTyping {
  userId: string;
  /** Conversation id → the typing state there. */
  timers: Map<string, TypingIn>;
}

export function typingFeature({ io, config, cache, blocks, log, onEvent }: FeatureContext): GatewayFeature {
  /** Socket id → what it is typing in. */
  const typing = new Map<string, SocketTyping>();

  const announce = (userId: string, conversationId: string, isTyping: boolean, hidden: readonly string[]) => {
    try {
      io.to(conversationRoom(conversationId)).except([userRoom(userId), ...hidden]).emit("typing", { conversationId, userId, isTyping });
    } catch (err) {
      log.error({ err, conversationId, userId }, "typing not emitted");
    }
  };

  const stop = (socketId: string, conversationId: string) => {
    const state = typing.get(socketId);
    const current = state?.timers.get(conversationId);
    if (!state || !current) return;
    clearTimeout(current.timer);
    state.timers.delete(conversationId);
    if (state.timers.size === 0) typing.delete(socketId);
    announce(state.userId, conversationId, false, current.hidden);
  };

  const stopAll = (socketId: string) => {
    for (const conversationId of [...(typing.get(socketId)?.timers.keys() ?? [])]) stop(socketId, conversationId);
  };

  const assertMember = async (conversationId: string, userId: string) => {
    if (!(await cache.isMember(conversationId, userId))) throw new ForbiddenError("Not a member of this conversation");
  };

  // One socket's typing events take effect in the order they were sent, whatever their membership
  // checks cost (a quick start/stop pair must not end as "typing").
  const queues = new WeakMap<GatewaySocket, Promise<unknown>>();
  const inOrder = <T>(socket: GatewaySocket, handle: () => Promise<T>): Promise<T> => {
    const done = (queues.get(socket) ?? Promise.resolve()).then(handle);
    queues.set(socket, done.catch(() => {}));
    return done;
  };

  onEvent("typing:start", (socket, { conversationId }) => inOrder(socket, async () => {
    const { userId } = socket.data;
    await assertMember(conversationId, userId);
    // A refresh keeps the audience of the start it extends; a new start reads the peers.
    const hidden = typing.get(socket.id)?.timers.get(conversationId)?.hidden ?? (await blocks.peersOf(userId)).map(userRoom);
    if (socket.disconnected) return {};
    let state = typing.get(socket.id);
    if (!state) typing.set(socket.id, (state = { userId, timers: new Map() }));
    const current = state.timers.get(conversationId);
    const timer = setTimeout(() => stop(socket.id, conversationId), config.TYPING_TIMEOUT_MS);
    timer.unref();
    state.timers.set(conversationId, { timer, hidden: current?.hidden ?? hidden });
    if (current) clearTimeout(current.timer);
    else announce(userId, conversationId, true, hidden);
    return {};
  }));
  onEvent("typing:stop", (socket, { conversationId }) => inOrder(socket, async () => {
    // Typing there was checked at its start; otherwise a stop changes nothing, for members only.
    if (!typing.get(socket.id)?.timers.has(conversationId)) await assertMember(conversationId, socket.data.userId);
    stop(socket.id, conversationId);
    return {};
  }));

  return {
    name: "typing",
    onConnection(socket) {
      socket.on("disconnect", () => stopAll(socket.id));
    },
    async stop() {
      for (const socketId of [...typing.keys()]) stopAll(socketId);
    },
  };
}
