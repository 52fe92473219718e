/** Bearer-token authentication of every route but register, login, refresh and health. */
import type { RequestHandler, Response } from "express";
import { Types } from "mongoose";

import { verifyAccessToken } from "@parley/shared/auth";
import { AuthError } from "@parley/shared/errors";
import { PUBLIC_USER_FIELDS, type Models, type PublicUserDoc } from "@parley/shared/models";
import type { SessionRevocations } from "@parley/shared/sessions/revocations";

/** The authenticated user of a request: enough to answer `GET /api/users/me` without another read. */
export interface Caller {
  /** The user's id, as in the token. */
  id: string;
  /** The session the token belongs to. */
  sessionId: string;
  user: PublicUserDoc;
}

const CALLER = Symbol("caller");

type LocalsWithCaller = Record<PropertyKey, unknown> & { [CALLER]?: Caller };

/** The token of an `Authorization: Bearer <token>` header; undefined when the header is absent. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const match = /^Bearer(?:[ \t]+(\S*))?[ \t]*$/i.exec(header);
  if (!match) throw new AuthError("INVALID_TOKEN", "The Authorization header must be 'Bearer <token>'");
  return match[1];
}

/**
 * Requires a valid access token (HS256, unexpired) of a session that was not revoked (one Redis read)
 * naming an existing user, and records the caller for {@link callerOf}. Refusals are 401 with code
 * `AUTH_REQUIRED`, `INVALID_TOKEN`, `TOKEN_EXPIRED`, `SESSION_REVOKED` or `USER_NOT_FOUND`; 503
 * `UNAVAILABLE` when the revocation check (Redis) or the user lookup (MongoDB) cannot be made.
 */
export function authenticate({
  models,
  jwtSecret,
  revocations,
}: {
  models: Pick<Models, "User">;
  jwtSecret: string;
  revocations: SessionRevocations;
}): RequestHandler {
  return async (req, res, next) => {
    const { userId, sessionId } = verifyAccessToken(bearerToken(req.headers.authorization), jwtSecret);
    if (await revocations.isRevoked(userId, sessionId)) throw new AuthError("SESSION_REVOKED", "This session was revoked: log in again");
    const user = await models.User.findById(new Types.ObjectId(userId), PUBLIC_USER_FIELDS).lean<PublicUserDoc>().exec();
    if (!user || user.deletedAt) throw new AuthError("USER_NOT_FOUND", "The user of this token no longer exists");
    (res.locals as LocalsWithCaller)[CALLER] = { id: userId, sessionId, user };
    next();
  };
}

/** The caller that {@link authenticate} recorded; only valid on routes behind it. */
export function callerOf(res: Response): Caller {
  const caller = (res.locals as LocalsWithCaller)[CALLER];
  if (!caller) throw new Error("callerOf() used on a route without authenticate()");
  return caller;
}
