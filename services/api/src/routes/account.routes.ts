/**
 * The caller's own account, under `/api/users`: `POST /me/password`, `PATCH /me`, `DELETE /me` and
 * `GET /me/export`. The password change, the deletion and the export each take a token of the
 * caller's `account` bucket first, before the body is parsed.
 */
import express, { Router } from "express";

import { ChangePasswordBody, DeleteMeBody, DeleteMeQuery, UpdateMeBody } from "@parley/protocol";

import { sendExport } from "../account/account-export.js";
import { changePassword, deleteAccount, updateProfile } from "../account/account-service.js";
import type { ApiContext } from "../context.js";
import { callerOf } from "../http/authenticate.js";
import { limitRequests } from "../http/rate-limit.js";
import { parseBody, parseQuery } from "../http/validate.js";

/** Routes of the caller's account; mount under `/api/users`, behind authentication. */
export function accountRoutes(ctx: ApiContext): Router {
  const router = Router();
  const json = express.json({ limit: ctx.config.BODY_LIMIT_BYTES });
  const limited = limitRequests(ctx.limiter, "account", { subject: (_req, res) => callerOf(res).id });

  router.post("/me/password", limited, json, async (req, res) => {
    await changePassword(ctx, callerOf(res), parseBody(req, ChangePasswordBody));
    res.status(204).end();
  });

  router.patch("/me", json, async (req, res) => {
    res.json({ user: await updateProfile(ctx, callerOf(res), parseBody(req, UpdateMeBody)) });
  });

  router.delete("/me", limited, json, async (req, res) => {
    const { erase } = parseQuery(req, DeleteMeQuery);
    const { password } = parseBody(req, DeleteMeBody);
    const { erasing } = await deleteAccount(ctx, callerOf(res), password, { erase });
    // 202 while the worker is still deleting the messages' content.
    res.status(erasing ? 202 : 204).end();
  });

  router.get("/me/export", limited, async (_req, res) => {
    await sendExport(ctx, callerOf(res), res);
  });

  return router;
}
