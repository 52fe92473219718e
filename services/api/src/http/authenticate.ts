/** Bearer-token authentication of every route but register, login and health. */
import type { RequestHandler, Response } from "express";
import { Types } from "mongoose";

import { verifyAccessToken } from "@parley/shared/auth";
import { AuthError } from "@parley/shared/errors";
import type { Models, UserDoc } from "@parley/shared/models";

/** The authenticated user of a request: enough to answer `GET /api/users/me` without another read. */
export interface Caller {
  /** The user's id, as in the token. */
  id: string;
  user: Pick<UserDoc, "_id" | "username" | "displayName" | "createdAt">;
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
 * Requires a valid access token (HS256, unexpired) naming an existing user, and records the caller for
 * {@link callerOf}. Refusals are 401 with code `AUTH_REQUIRED`, `INVALID_TOKEN`, `TOKEN_EXPIRED` or
 * `USER_NOT_FOUND`.
 */
export function authenticate({ models, jwtSecret }: { models: Pick<Models, "User">; jwtSecret: string }): RequestHandler {
  return async (req, res, next) => {
    const { userId } = verifyAccessToken(bearerToken(req.headers.authorization), jwtSecret);
    const user = await models.User.findById(new Types.ObjectId(userId), { username: 1, displayName: 1, createdAt: 1 })
      .lean<Caller["user"]>()
      .exec();
    if (!user) throw new AuthError("USER_NOT_FOUND", "The user of this token no longer exists");
    (res.locals as LocalsWithCaller)[CALLER] = { id: userId, user };
    next();
  };
}

/** The caller that {@link authenticate} recorded; only valid on routes behind it. */
export function callerOf(res: Response): Caller {
  const caller = (res.locals as LocalsWithCaller)[CALLER];
  if (!caller) throw new Error("callerOf() used on a route without authenticate()");
  return caller;
}
