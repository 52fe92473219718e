/**
 * Delivery and read receipts: `conversation:delivered` and `conversation:read`. Each moves the caller's
 * pointer in one Redis script (members only, clamped to the last seq, forward only), announces every
 * pointer that moved to the conversation room on every node, and queues the move for the worker.
 */
import type { PointerMoved } from "@parley/protocol";
import { conversationRoom } from "@parley/shared/events";
import type { Logger } from "@parley/shared/logger";
import { PointerStore, type PointerKind, type PointerMove } from "@parley/shared/messages/pointers";
import { enqueuePointer, type PersistQueue } from "@parley/shared/queues";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewayServer, GatewaySocket } from "../lib/types.js";

export function receiptsFeature({ io, redis, keys, cache, queue, log, onEvent }: FeatureContext): GatewayFeature {
  const pointers = new PointerStore({ redis, keys, cache });

  const handle = (kind: PointerKind) => async (socket: GatewaySocket, payload: { conversationId: string; seq: number }) => {
    const { conversationId } = payload;
    const userId = socket.data.userId;
    const move = await pointers.move(conversationId, userId, kind, payload.seq);
    if (move.moved.length > 0) {
      const at = new Date().toISOString();
      announce(io, log, socket.id, { conversationId, userId, at }, move);
      await persist(queue, { conversationId, userId, at }, move);
    }
    return { seq: move.seq };
  };

  onEvent("conversation:delivered", handle("delivered"));
  onEvent("conversation:read", handle("read"));
  return { name: "receipts" };
}

type MoveOrigin = Omit<PointerMoved, "seq">;

/**
 * Tells the conversation room, on every node, which pointers moved: delivered before read. The calling
 * socket is left out (it has the ack); the caller's other devices are not. Fire-and-forget: the move is
 * done, and clients also learn pointers from `GET /api/conversations`.
 */
function announce(io: GatewayServer, log: Logger, exceptSocketId: string, origin: MoveOrigin, move: PointerMove): void {
  try {
    const room = io.to(conversationRoom(origin.conversationId)).except(exceptSocketId);
    for (const { kind, seq } of move.moved) {
      room.emit(kind === "read" ? "conversation:read" : "conversation:delivered", { ...origin, seq });
    }
  } catch (err) {
    log.error({ err, conversationId: origin.conversationId }, "pointer event not emitted");
  }
}

/**
 * Queues the move for the worker, which stores it with `$max`. One job is enough when a read also moved
 * the delivery pointer: the worker stores a read as delivered up to the same seq.
 */
async function persist(queue: PersistQueue, origin: MoveOrigin, move: PointerMove): Promise<void> {
  const moved = move.moved.find((m) => m.kind === "read") ?? move.moved[0]!;
  await enqueuePointer(queue, {
    conversationId: origin.conversationId,
    userId: origin.userId,
    kind: moved.kind,
    seq: moved.seq,
    at: origin.at,
  });
}
