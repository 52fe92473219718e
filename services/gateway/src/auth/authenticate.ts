/**
 * Handshake middleware: a socket connects only with a valid access token of an existing user, not of
 * a deleted account.
 * Refusals reach the client as `connect_error` with `err.data.code`.
 */
import type { ExtendedError } from "socket.io";
import { Types } from "mongoose";

import { verifyAccessToken } from "@parley/shared/auth";
import type { ErrorCode } from "@parley/protocol";
import { AppError, AuthError, UnavailableError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";

import type { GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";

export interface AuthenticateDeps {
  secret: string;
  models: Pick<Models, "User">;
  log: Logger;
}

/**
 * The token is read from `auth.token`, else from the `token` query parameter, else from an
 * `Authorization: Bearer` header (for clients that cannot set the handshake `auth` object).
 */
export function authenticate({ secret, models, log }: AuthenticateDeps) {
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    (async () => {
      const { userId, sessionId, expiresAt } = verifyAccessToken(tokenOf(socket), secret);
      let exists: unknown;
      try {
        // A deleted account keeps its document (a tombstone): it does not count. By _id, a key lookup.
        exists = await models.User.exists({ _id: new Types.ObjectId(userId), deletedAt: null });
      } catch (err) {
        log.error({ err }, "user lookup failed during handshake");
        throw new UnavailableError("Service temporarily unavailable, retry shortly");
      }
      if (!exists) throw new AuthError("USER_NOT_FOUND", "The user of this token does not exist");
      socket.data.userId = userId;
      socket.data.sessionId = sessionId;
      socket.data.expiresAt = expiresAt;
    })().then(
      () => next(),
      (err: unknown) => {
        if (!(err instanceof AppError)) log.error({ err }, "handshake failed");
        next(handshakeError(err));
      },
    );
  };
}

function tokenOf(socket: GatewaySocket): unknown {
  const { auth, query, headers } = socket.handshake;
  const fromAuth = (auth as { token?: unknown } | undefined)?.token;
  if (fromAuth !== undefined) return fromAuth;
  if (query.token !== undefined) return query.token;
  const bearer = /^Bearer (.+)$/i.exec(headers.authorization ?? "");
  return bearer?.[1];
}

/** The handshake steps of `features`, in order, as one Socket.IO middleware after {@link authenticate}. */
export function handshakeOf(features: readonly Pick<GatewayFeature, "handshake">[], log: Logger) {
  const steps = features.flatMap((f) => (f.handshake ? [f.handshake.bind(f)] : []));
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    (async () => {
      for (const step of steps) await step(socket);
    })().then(
      () => next(),
      (err: unknown) => {
        if (!(err instanceof AppError)) log.error({ err }, "handshake failed");
        next(handshakeError(err));
      },
    );
  };
}

function handshakeError(err: unknown): ExtendedError {
  const code: ErrorCode = err instanceof AppError ? err.code : "INTERNAL";
  const message = err instanceof AppError ? err.message : "Internal error";
  return Object.assign(new Error(message), { data: { code } });
}
