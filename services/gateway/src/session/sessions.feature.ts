/**
 * Sockets follow the login they were opened with:
 *
 * - at the handshake, after the token is verified, the socket is admitted only if its session is not
 *   revoked and its user has fewer than `MAX_SOCKETS_PER_USER` sockets across the cluster
 *   (`connect_error` codes `SESSION_REVOKED`, `TOO_MANY_CONNECTIONS`);
 * - a socket is disconnected when its access token expires, after `session:expiring` a little before;
 *   `auth:refresh` with a newer token of the same session moves that time;
 * - when the API revokes sessions (logout, password change, deletion…), every gateway ends their
 *   sockets: `session:ended` `{ code: "SESSION_REVOKED" }`, then a disconnect.
 */
import { verifyAccessToken } from "@parley/shared/auth";
import type { SessionEnded } from "@parley/protocol";
import { userRoom } from "@parley/shared/events";
import { AuthError, ForbiddenError, TooManyConnectionsError } from "@parley/shared/errors";
import { SessionRevocations } from "@parley/shared/sessions/revocations";

import { SocketAdmission } from "./admission.js";
import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";
import { Deadlines } from "./deadlines.js";

/** Local sockets whose leases one Redis call renews at most, so a renewal round never blocks the loop long. */
const RENEW_BATCH = 500;

export function sessionsFeature({ io, config, log, redis, keys, onEvent }: FeatureContext): GatewayFeature {
  const admission = new SocketAdmission(redis, keys, config.MAX_SOCKETS_PER_USER);
  const revocations = new SessionRevocations(redis, keys);
  const warningMs = config.SESSION_EXPIRY_WARNING_SECONDS * 1000;
  /** Sockets that passed the handshake but are not connected yet: their lease goes if the transport closes first. */
  const pending = new WeakMap<GatewaySocket, () => void>();
  let renewTimer: NodeJS.Timeout | undefined;
  let renewing = false;

  const end = (socket: GatewaySocket, ended: SessionEnded) => {
    if (socket.disconnected) return;
    socket.emit("session:ended", ended);
    socket.disconnect(true);
  };

  /** A socket's next deadline came: it is warned first, then cut at its token's expiry. */
  const deadlines = new Deadlines<GatewaySocket>((socket) => {
    if (socket.disconnected) return;
    const { expiresAt } = socket.data;
    if (Date.now() >= expiresAt) {
      end(socket, { code: "TOKEN_EXPIRED", message: "The access token expired: refresh it, then reconnect" });
      return;
    }
    socket.emit("session:expiring", { expiresAt: new Date(expiresAt).toISOString() });
    deadlines.set(socket, expiresAt);
  });

  /** Schedules the warning (now, when the token is already that close to expiry), then the cut. */
  const schedule = (socket: GatewaySocket) => {
    deadlines.set(socket, socket.data.expiresAt - warningMs);
  };

  const release = (socket: GatewaySocket) => {
    admission.release(socket.data.userId, socket.id).catch((err: unknown) => log.warn({ err, userId: socket.data.userId }, "socket lease not released, it lapses by itself"));
  };

  /** Renews the leases of every local socket, a batch of users at a time. */
  const renew = async () => {
    if (renewing) return;
    renewing = true;
    try {
      const byUser = new Map<string, string[]>();
      for (const socket of io.of("/").sockets.values()) {
        const ids = byUser.get(socket.data.userId);
        if (ids) ids.push(socket.id);
        else byUser.set(socket.data.userId, [socket.id]);
      }
      const users = [...byUser];
      for (let i = 0; i < users.length; i += RENEW_BATCH) {
        await Promise.all(
          users.slice(i, i + RENEW_BATCH).map(([userId, socketIds]) =>
            admission.renew(userId, socketIds).catch((err: unknown) => log.warn({ err, userId }, "socket leases not renewed")),
          ),
        );
      }
    } finally {
      renewing = false;
    }
  };

  onEvent("auth:refresh", async (socket, { token }) => {
    const claims = verifyAccessToken(token, config.JWT_SECRET);
    if (claims.userId !== socket.data.userId || claims.sessionId !== socket.data.sessionId) {
      throw new ForbiddenError("That token belongs to another session: connect again with it instead");
    }
    if (await revocations.isRevoked(claims.userId, claims.sessionId)) throw new AuthError("SESSION_REVOKED", "This session was revoked: log in again");
    if (claims.expiresAt > socket.data.expiresAt && socket.connected) {
      socket.data.expiresAt = claims.expiresAt;
      schedule(socket);
    }
    return { expiresAt: new Date(socket.data.expiresAt).toISOString() };
  });

  // The user's room holds every socket of the user on this gateway: a room per session would cost
  // every socket a room of its own (0.3 KB of gateway heap each at 5,000 sockets), for a rare event.
  io.on("session:revoke", ({ userId, sessionIds, ended }) => {
    const nsp = io.of("/");
    const revoked = new Set(sessionIds);
    for (const socketId of [...(nsp.adapter.rooms.get(userRoom(userId)) ?? [])]) {
      const socket = nsp.sockets.get(socketId);
      if (socket && revoked.has(socket.data.sessionId)) end(socket, ended);
    }
  });

  return {
    name: "sessions",
    async handshake(socket) {
      const { userId, sessionId } = socket.data;
      // A Redis outage here refuses the handshake with UNAVAILABLE (toWireError).
      const decision = await admission.admit(userId, sessionId, socket.id);
      if (decision === "REVOKED") throw new AuthError("SESSION_REVOKED", "This session was revoked: log in again");
      if (decision === "FULL") {
        throw new TooManyConnectionsError(`This account already has ${config.MAX_SOCKETS_PER_USER} connections open: close one first`);
      }
      const closedEarly = () => release(socket);
      pending.set(socket, closedEarly);
      socket.conn.once("close", closedEarly);
    },
    onConnection(socket) {
      const closedEarly = pending.get(socket);
      if (closedEarly) socket.conn.off("close", closedEarly);
      pending.delete(socket);
      socket.on("disconnect", () => {
        deadlines.delete(socket);
        release(socket);
      });
      schedule(socket);
    },
    async onSession(socket) {
      // The socket is in its user's room now, so a revocation from here on reaches it; one that came
      // between the handshake's check and the join did not, and is caught here.
      if (await revocations.isRevoked(socket.data.userId, socket.data.sessionId)) {
        end(socket, { code: "SESSION_REVOKED", message: "This session was revoked: log in again" });
      }
    },
    start() {
      deadlines.start();
      renewTimer = setInterval(() => void renew(), admission.renewIntervalMs);
      renewTimer.unref();
    },
    async stop() {
      deadlines.stop();
      clearInterval(renewTimer);
    },
  };
}
