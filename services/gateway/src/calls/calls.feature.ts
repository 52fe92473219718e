/**
 * 1:1 call signaling (WebRTC offers, answers and ICE candidates relayed between two sockets).
 *
 * The caller's socket and, once answered, the answering socket of the callee are the call's parties;
 * while ringing, every device of the callee takes the callee's part. Events go to socket ids and the
 * callee's user room through the adapter, so parties on different gateways reach each other. State is
 * in Redis ({@link CallStore}); a gateway refreshes the TTL of the calls its sockets are parties of, ends
 * them when such a socket disconnects or the gateway stops, and every gateway sweeps ringing calls past
 * their timeout. Calls whose party sockets died with their gateway are ended through {@link CallsFeature.socketsGone}.
 */
import { randomUUID } from "node:crypto";

import { Types } from "mongoose";

import { userRoom } from "@parley/shared/events";
import { ForbiddenError, NotFoundError, ValidationError } from "@parley/shared/errors";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";
import { CallStore, type CallAction, type CallSnapshot } from "./call-store.js";

/** Ringing calls one sweep claims at most; the rest wait for the next sweep. */
const SWEEP_LIMIT = 100;

export interface CallsFeature extends GatewayFeature {
  /**
   * Sockets that vanished without a disconnect handler (their gateway died): ends the calls they were
   * parties of, as a disconnect would have. Errors are logged.
   */
  socketsGone(sockets: readonly { userId: string; socketId: string }[]): Promise<void>;
}

/** A call one of this gateway's sockets is a party of. */
interface LocalParty {
  socketId: string;
  callerId: string;
  calleeId: string;
}

export function callsFeature({ io, config, log, redis, keys, models, blocks, onEvent }: FeatureContext): CallsFeature {
  const store = new CallStore(redis, keys);
  const ttlMs = config.CALL_TTL_MS;
  /** Call id → the local socket that is a party of it. */
  const local = new Map<string, LocalParty>();
  let sweepTimer: NodeJS.Timeout | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  let sweeping = false;
  let refreshing = false;

  /** Every device of the callee while ringing, the answering socket after. */
  const callee = (call: CallSnapshot) => (call.state === "ringing" ? io.to(userRoom(call.calleeId)) : io.to(call.calleeSocket));
  /** The party that is not the one that asked. */
  const otherParty = (call: CallSnapshot) => (call.role === "caller" ? callee(call) : io.to(call.callerSocket));

  const transition = (callId: string, action: CallAction, userId: string, socketId: string) =>
    store.transition(callId, action, userId, socketId, ttlMs);

  /**
   * After a call ended: its timeout and busy marks are removed first, so that a party who hears of the
   * end can call again at once; then the other side is told.
   */
  const ended = async (call: CallSnapshot, tell: () => void) => {
    local.delete(call.callId);
    await store.release(call).catch((err: unknown) => log.error({ err, callId: call.callId }, "ended call not released, busy until its TTL"));
    try {
      tell();
    } catch (err) {
      log.error({ err, callId: call.callId }, "call event not emitted");
    }
  };

  /** A party socket is gone (disconnected, its gateway stopped or died): the other side hears `disconnected`. */
  const partyGone = async (callId: string, userId: string, socketId: string) => {
    const call = await transition(callId, "disconnect", userId, socketId).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
      return undefined;
    });
    if (call?.outcome !== "ENDED") return;
    await ended(call, () => otherParty(call).emit("call:ended", { callId, reason: "disconnected" }));
  };

  /** The callee declined (`call:reject`, or `call:end` while ringing): the caller and the other devices hear it. */
  const rejected = (call: CallSnapshot, socketId: string) =>
    ended(call, () => {
      io.to(call.callerSocket).emit("call:rejected", { callId: call.callId });
      io.to(userRoom(call.calleeId)).except(socketId).emit("call:rejected", { callId: call.callId });
    });

  const cancelled = (call: CallSnapshot) =>
    ended(call, () => io.to(userRoom(call.calleeId)).emit("call:cancelled", { callId: call.callId }));

  /** Caller and callee must share a conversation and have no block between them; an unknown callee is NOT_FOUND. */
  const assertMayCall = async (callerId: string, calleeId: string) => {
    if (await blocks.hasBlock(callerId, calleeId)) throw new ForbiddenError("You cannot call this user");
    const caller = new Types.ObjectId(callerId);
    const target = new Types.ObjectId(calleeId);
    if (await models.Conversation.exists({ members: { $all: [caller, target] } })) return;
    if (!(await models.User.exists({ _id: target }))) throw new NotFoundError("User not found");
    throw new ForbiddenError("You can only call someone you share a conversation with");
  };

  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      const due = await store.claimDue(Math.max(10_000, 5 * config.CALL_SWEEP_INTERVAL_MS), SWEEP_LIMIT);
      for (const callId of due) {
        try {
          const call = await transition(callId, "miss", "", "").catch((err: unknown) => {
            if (!(err instanceof NotFoundError)) throw err;
            return undefined;
          });
          if (call?.outcome === "ENDED") {
            await ended(call, () => {
              io.to(call.callerSocket).emit("call:missed", { callId });
              io.to(userRoom(call.calleeId)).emit("call:missed", { callId });
            });
          }
          await store.unschedule(callId);
        } catch (err) {
          log.error({ err, callId }, "ringing call not swept, retried when its lease ends");
        }
      }
    } catch (err) {
      log.error({ err }, "call sweep failed");
    } finally {
      sweeping = false;
    }
  };

  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    try {
      await Promise.all(
        [...local].map(async ([callId, party]) => {
          try {
            if (!(await store.refresh({ callId, ...party }, ttlMs))) local.delete(callId);
          } catch (err) {
            log.error({ err, callId }, "call TTL not refreshed");
          }
        }),
      );
    } finally {
      refreshing = false;
    }
  };

  onEvent("call:initiate", async (socket, { calleeId, media }) => {
    const { userId } = socket.data;
    if (calleeId === userId) throw new ValidationError("You cannot call yourself", [{ path: "calleeId", message: "must not be the caller" }]);
    await assertMayCall(userId, calleeId);
    const callId = randomUUID();
    await store.create({ callId, callerId: userId, calleeId, callerSocket: socket.id, media }, {
      ringTimeoutMs: config.CALL_RING_TIMEOUT_MS,
      ttlMs: config.CALL_RING_TIMEOUT_MS + ttlMs,
    });
    local.set(callId, { socketId: socket.id, callerId: userId, calleeId });
    if (socket.disconnected) {
      await partyGone(callId, userId, socket.id);
      return { callId };
    }
    io.to(userRoom(calleeId)).emit("call:incoming", { callId, callerId: userId, media });
    return { callId };
  });

  onEvent("call:offer", async (socket, { callId, sdp }) => {
    const call = await transition(callId, "offer", socket.data.userId, socket.id);
    callee(call).emit("call:offer", { callId, sdp });
    return {};
  });

  onEvent("call:answer", async (socket, { callId, sdp }) => {
    const { userId } = socket.data;
    const call = await transition(callId, "answer", userId, socket.id);
    if (call.outcome === "ANSWERED") {
      local.set(callId, { socketId: socket.id, callerId: call.callerId, calleeId: call.calleeId });
      await store.unschedule(callId).catch((err: unknown) => log.error({ err, callId }, "answered call still scheduled"));
      io.to(userRoom(call.calleeId)).except(socket.id).emit("call:answered-elsewhere", { callId });
      if (socket.disconnected) {
        // It disconnected before it became the callee's socket of record: end the call as its disconnect would have.
        await partyGone(callId, userId, socket.id);
        return {};
      }
    }
    io.to(call.callerSocket).emit("call:answer", { callId, sdp });
    return {};
  });

  onEvent("call:ice-candidate", async (socket, { callId, candidate }) => {
    const call = await transition(callId, "ice", socket.data.userId, socket.id);
    otherParty(call).emit("call:ice-candidate", { callId, candidate });
    return {};
  });

  onEvent("call:reject", async (socket, { callId }) => {
    await rejected(await transition(callId, "reject", socket.data.userId, socket.id), socket.id);
    return {};
  });

  onEvent("call:cancel", async (socket, { callId }) => {
    await cancelled(await transition(callId, "cancel", socket.data.userId, socket.id));
    return {};
  });

  onEvent("call:end", async (socket, { callId }) => {
    const call = await transition(callId, "end", socket.data.userId, socket.id);
    // Ending a call that still rings is a cancel (caller) or a decline (callee).
    if (call.state === "ringing") await (call.role === "caller" ? cancelled(call) : rejected(call, socket.id));
    else await ended(call, () => otherParty(call).emit("call:ended", { callId, reason: "hangup" }));
    return {};
  });

  const register = (socket: GatewaySocket) => {
    const { userId } = socket.data;
    socket.on("disconnect", () => {
      for (const [callId, party] of local) {
        if (party.socketId !== socket.id) continue;
        partyGone(callId, userId, socket.id).catch((err: unknown) => log.error({ err, callId }, "call of a disconnected socket not ended"));
      }
    });
  };

  return {
    name: "calls",
    onConnection: register,
    async socketsGone(sockets) {
      await Promise.all(
        sockets.map(async ({ userId, socketId }) => {
          try {
            const callId = await store.callOf(userId);
            if (callId) await partyGone(callId, userId, socketId);
          } catch (err) {
            log.error({ err, userId }, "call of a vanished socket not ended");
          }
        }),
      );
    },
    start() {
      sweepTimer = setInterval(() => void sweep(), config.CALL_SWEEP_INTERVAL_MS);
      refreshTimer = setInterval(() => void refresh(), Math.max(100, Math.floor(ttlMs / 3)));
      sweepTimer.unref();
      refreshTimer.unref();
    },
    async stop() {
      clearInterval(sweepTimer);
      clearInterval(refreshTimer);
      // The sockets are about to be disconnected: end their calls now, while this process can still tell
      // the other parties (their disconnect handlers would race the closing Redis connections).
      await Promise.all(
        [...local].map(([callId, party]) =>
          partyGone(callId, "", party.socketId).catch((err: unknown) => log.error({ err, callId }, "call not ended on shutdown")),
        ),
      );
    },
  };
}
