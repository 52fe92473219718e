/**
 * `/api/auth`: register, login and refresh (the only routes without an access token), logout, logout on
 * every device, and the caller's sessions.
 */
import { Router, type Request, type RequestHandler } from "express";

import { AuthError, NotFoundError } from "@parley/shared/errors";
import { IdParams, LoginBody, RefreshBody, RegisterBody, type AuthSession } from "@parley/protocol";
import { PUBLIC_USER_FIELDS, toPublicUser, type Models, type PublicUserDoc } from "@parley/shared/models";

import { login, register, type ClientInfo } from "../auth/accounts.js";
import type { AccountLimits } from "../auth/account-limits.js";
import type { PasswordHasher } from "../auth/password-hasher.js";
import type { Sessions } from "../auth/sessions.js";
import { callerOf } from "../http/authenticate.js";
import { clientAddress } from "../http/client-address.js";
import { parseBody, parseParams } from "../http/validate.js";

export interface AuthRoutesDeps {
  models: Pick<Models, "User">;
  sessions: Sessions;
  hasher: PasswordHasher;
  limits: AccountLimits;
  /** Requires an access token; runs before the routes that act on the caller's sessions. */
  authenticate: RequestHandler;
}

/** Who sends a register or login request: the address the limits key on, the device for the session list. */
function clientOf(req: Request): ClientInfo {
  return { address: clientAddress(req), userAgent: req.get("user-agent") };
}

/** Routes under `/api/auth`; the JSON body parser runs before them. */
export function authRoutes({ models, sessions, hasher, limits, authenticate }: AuthRoutesDeps): Router {
  const router = Router();
  const deps = { models, sessions, hasher, limits };

  router.post("/register", async (req, res) => {
    res.status(201).json(await register(deps, parseBody(req, RegisterBody), clientOf(req)));
  });

  router.post("/login", async (req, res) => {
    res.status(200).json(await login(deps, parseBody(req, LoginBody), clientOf(req)));
  });

  router.post("/refresh", async (req, res) => {
    const { refreshToken } = parseBody(req, RefreshBody);
    const { userId, tokens } = await sessions.refresh(refreshToken);
    const user = await models.User.findOne({ _id: userId, deletedAt: null }, PUBLIC_USER_FIELDS).lean<PublicUserDoc>().exec();
    if (!user) {
      await sessions.revoke(userId.toHexString(), [tokens.sessionId], "account-deleted");
      throw new AuthError("USER_NOT_FOUND", "This account no longer exists");
    }
    const answer: AuthSession = { user: toPublicUser(user), ...tokens };
    res.json(answer);
  });

  router.post("/logout", authenticate, async (_req, res) => {
    const caller = callerOf(res);
    await sessions.revoke(caller.id, [caller.sessionId], "logout");
    res.status(204).end();
  });

  router.post("/logout-all", authenticate, async (_req, res) => {
    await sessions.revokeAll(callerOf(res).id, "logout-all");
    res.status(204).end();
  });

  router.get("/sessions", authenticate, async (_req, res) => {
    const caller = callerOf(res);
    res.json({ sessions: await sessions.list(caller.id, caller.sessionId) });
  });

  router.delete("/sessions/:id", authenticate, async (req, res) => {
    const { id } = parseParams(req, IdParams);
    if (!(await sessions.revokeOne(callerOf(res).id, id, "revoked"))) throw new NotFoundError("No such session");
    res.status(204).end();
  });

  return router;
}
