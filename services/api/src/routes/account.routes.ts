/**
 * The caller's own account, under `/api/users`: `POST /me/password`, `PATCH /me`, `DELETE /me` and
 * `GET /me/export`. The password change, the deletion and the export each take a token of the
 * caller's `account` bucket first, before the body is parsed.
 */
import express, { Router } from "express";

import { routes } from "@parley/protocol";

import { sendExport } from "../account/account-export.js";
import { changePassword, deleteAccount, updateProfile } from "../account/account-service.js";
import type { ApiContext } from "../context.js";
import { callerOf } from "../http/authenticate.js";
import { limitRequests } from "../http/rate-limit.js";
import { ANSWERED, routesOn } from "../http/route.js";

/** Routes of the caller's account; mount under `/api/users`, behind authentication. */
export function accountRoutes(ctx: ApiContext): Router {
  const router = Router();
  const route = routesOn(router, "/api/users");
  const json = express.json({ limit: ctx.config.BODY_LIMIT_BYTES });
  const limited = limitRequests(ctx.limiter, "account", { subject: (_req, res) => callerOf(res).id });

  route(routes["account.changePassword"], limited, json).handle(async ({ body }, _req, res) => {
    await changePassword(ctx, callerOf(res), body);
    return { status: 204 };
  });

  route(routes["account.update"], json).handle(async ({ body }, _req, res) => ({
    status: 200,
    body: { user: await updateProfile(ctx, callerOf(res), body) },
  }));

  route(routes["account.delete"], limited, json).handle(async ({ query, body }, _req, res) => {
    const { erasing } = await deleteAccount(ctx, callerOf(res), body.password, { erase: query.erase });
    // 202 while the worker is still deleting the messages' content.
    return { status: erasing ? 202 : 204 };
  });

  route(routes["account.export"], limited).handle(async (_input, _req, res) => {
    await sendExport(ctx, callerOf(res), res);
    return ANSWERED;
  });

  return router;
}
