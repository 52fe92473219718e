/**
 * The handshake: a socket connects only if it speaks a protocol version this server speaks, with a
 * valid access token of an existing user, not of a deleted account, and passes every feature's
 * handshake step. Refusals reach the client as `connect_error` with `err.data.code`.
 */
import type { ExtendedError } from "socket.io";
import { Types } from "mongoose";

import { verifyAccessToken } from "@parley/shared/auth";
import { HandshakeAuth, PROTOCOL_VERSION, isSupportedProtocol } from "@parley/protocol";
import { AuthError, UnavailableError, UnsupportedProtocolError, logFailure, toWireError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";

import type { GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";

export interface HandshakeDeps {
  secret: string;
  models: Pick<Models, "User">;
  log: Logger;
  /**
   * Longest the handshake's own work (the user lookup, the features' steps) may take; then it is
   * refused with `UNAVAILABLE`. Keep it under Socket.IO's `connectTimeout`, which closes a connection
   * that has not connected by then without telling the client why.
   */
  deadlineMs: number;
}

/** What a client hears when the handshake's dependencies are too slow or down. */
const UNAVAILABLE_MESSAGE = "Service temporarily unavailable, retry shortly";

/**
 * The handshake as one Socket.IO middleware. The handshake `auth` ({@link HandshakeAuth}) is read
 * first: a `protocol` that is malformed or of a major this server does not speak is refused with
 * `UNSUPPORTED_PROTOCOL` before the token is looked at (a client of another protocol may not send a
 * valid one); an absent `protocol` is the current major. Then the token (see {@link tokenOf}) and its
 * user, then the `handshake` steps of `features`, in order. A refusal's code is that of `toWireError`,
 * so an unavailable Redis or MongoDB is `UNAVAILABLE` here as for events and REST.
 */
export function handshake(features: readonly Pick<GatewayFeature, "handshake">[], { secret, models, log, deadlineMs }: HandshakeDeps) {
  const steps = features.flatMap((f) => (f.handshake ? [f.handshake.bind(f)] : []));
  return (socket: GatewaySocket, next: (err?: ExtendedError) => void): void => {
    let answered = false;
    const answer = (err?: unknown) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      next(err === undefined ? undefined : refusal(err, log));
    };
    const timer = setTimeout(() => {
      log.warn({ deadlineMs }, "handshake took too long, refused: a dependency is slow or unavailable");
      answer(new UnavailableError(UNAVAILABLE_MESSAGE));
    }, deadlineMs);
    (async () => {
      const { userId, sessionId, expiresAt } = verifyAccessToken(tokenOf(socket), secret);
      // A deleted account keeps its document (a tombstone): it does not count. By _id, a key lookup.
      const exists = await models.User.exists({ _id: new Types.ObjectId(userId), deletedAt: null });
      if (!exists) throw new AuthError("USER_NOT_FOUND", "The user of this token does not exist");
      socket.data.userId = userId;
      socket.data.sessionId = sessionId;
      socket.data.expiresAt = expiresAt;
      // Past the deadline the socket is refused already: later steps must not run for it.
      for (const step of steps) if (!answered) await step(socket);
    })().then(
      () => answer(),
      (err: unknown) => answer(err),
    );
  };
}

/**
 * The token the handshake presents, once its `protocol` was found supported: `auth.token`, else the
 * `token` query parameter, else an `Authorization: Bearer` header (for clients that cannot set the
 * handshake `auth` object). A token that fails the schema is returned as sent: `verifyAccessToken`
 * names what is wrong with it (`AUTH_REQUIRED`, `INVALID_TOKEN`).
 * @throws {UnsupportedProtocolError} when the client announced a protocol this server does not speak.
 */
function tokenOf(socket: GatewaySocket): unknown {
  const { auth, query, headers } = socket.handshake;
  const raw = (auth ?? {}) as Record<string, unknown>;
  const parsed = HandshakeAuth.safeParse(raw);
  const unsupported = parsed.success
    ? parsed.data.protocol !== undefined && !isSupportedProtocol(parsed.data.protocol)
    : parsed.error.issues.some((issue) => issue.path[0] === "protocol");
  if (unsupported) {
    throw new UnsupportedProtocolError(`Unsupported protocol version: this server speaks parley protocol ${PROTOCOL_VERSION}`);
  }
  const fromAuth = parsed.success ? parsed.data.token : raw.token;
  if (fromAuth !== undefined) return fromAuth;
  if (query.token !== undefined) return query.token;
  const bearer = /^Bearer (.+)$/i.exec(headers.authorization ?? "");
  return bearer?.[1];
}

/** The `connect_error` of a refused handshake: the code and message of {@link toWireError}. */
function refusal(err: unknown, log: Logger): ExtendedError {
  logFailure(log, err, {}, "handshake failed");
  const { code, message } = toWireError(err);
  return Object.assign(new Error(message), { data: { code } });
}
