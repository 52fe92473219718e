/**
 * `/api/auth`: register, login and refresh (the only routes without an access token), logout, logout on
 * every device, and the caller's sessions.
 */
import { Router, type Request, type RequestHandler } from "express";

import { AuthError, NotFoundError } from "@parley/shared/errors";
import { routes } from "@parley/protocol";
import { PUBLIC_USER_FIELDS, toPublicUser, type Models, type PublicUserDoc } from "@parley/shared/models";

import { login, register, type ClientInfo } from "../auth/accounts.js";
import type { AccountLimits } from "../auth/account-limits.js";
import type { PasswordHasher } from "../auth/password-hasher.js";
import type { Sessions } from "../auth/sessions.js";
import { callerOf } from "../http/authenticate.js";
import { clientAddress } from "../http/client-address.js";
import { routesOn } from "../http/route.js";

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
  const route = routesOn(router, "/api/auth");
  const deps = { models, sessions, hasher, limits };

  route(routes["auth.register"]).handle(async ({ body }, req) => ({ status: 201, body: await register(deps, body, clientOf(req)) }));

  route(routes["auth.login"]).handle(async ({ body }, req) => ({ status: 200, body: await login(deps, body, clientOf(req)) }));

  route(routes["auth.refresh"]).handle(async ({ body }) => {
    const { userId, tokens } = await sessions.refresh(body.refreshToken);
    const user = await models.User.findOne({ _id: userId, deletedAt: null }, PUBLIC_USER_FIELDS).lean<PublicUserDoc>().exec();
    if (!user) {
      await sessions.revoke(userId.toHexString(), [tokens.sessionId], "account-deleted");
      throw new AuthError("USER_NOT_FOUND", "This account no longer exists");
    }
    return { status: 200, body: { user: toPublicUser(user), ...tokens } };
  });

  route(routes["auth.logout"], authenticate).handle(async (_input, _req, res) => {
    const caller = callerOf(res);
    await sessions.revoke(caller.id, [caller.sessionId], "logout");
    return { status: 204 };
  });

  route(routes["auth.logoutAll"], authenticate).handle(async (_input, _req, res) => {
    await sessions.revokeAll(callerOf(res).id, "logout-all");
    return { status: 204 };
  });

  route(routes["sessions.list"], authenticate).handle(async (_input, _req, res) => {
    const caller = callerOf(res);
    return { status: 200, body: { sessions: await sessions.list(caller.id, caller.sessionId) } };
  });

  route(routes["sessions.revoke"], authenticate).handle(async ({ params }, _req, res) => {
    if (!(await sessions.revokeOne(callerOf(res).id, params.id, "revoked"))) throw new NotFoundError("No such session");
    return { status: 204 };
  });

  return router;
}
