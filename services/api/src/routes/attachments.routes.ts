/**
 * Attachments: `POST /api/conversations/:id/attachments` starts one (a presigned upload straight to the
 * object store), `GET /api/attachments/:id` downloads one (a redirect to a presigned download). The
 * bytes never pass through the API.
 */
import { Router } from "express";

import { routes } from "@parley/protocol";
import { NotFoundError } from "@parley/shared/errors";

import type { ApiContext } from "../context.js";
import { findMemberConversation } from "../conversations/conversation-service.js";
import { ANSWERED, routesOn } from "../http/route.js";
import { callerOf } from "../http/authenticate.js";

/** `POST /:id/attachments`, under `/api/conversations` behind authentication and the JSON body parser. */
export function attachmentUploadRoutes(ctx: Pick<ApiContext, "models" | "attachments" | "limiter">): Router {
  const router = Router();
  const route = routesOn(router, "/api/conversations");

  route(routes["attachments.create"]).handle(async ({ params, body }, _req, res) => {
    const callerId = callerOf(res).id;
    await findMemberConversation(ctx.models, params.id, callerId);
    await ctx.limiter.check(callerId, "upload");
    return { status: 201, body: await ctx.attachments.create(callerId, params.id, body) };
  });

  return router;
}

/** `GET /:id`, under `/api/attachments` behind authentication. */
export function attachmentDownloadRoutes(ctx: Pick<ApiContext, "attachments" | "cache">): Router {
  const router = Router();
  const route = routesOn(router, "/api/attachments");

  route(routes["attachments.get"]).handle(async ({ params, query }, _req, res) => {
    const callerId = callerOf(res).id;
    const isMember = async (conversationId: string) => {
      try {
        return await ctx.cache.isMember(conversationId, callerId);
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        throw err;
      }
    };
    const link = await ctx.attachments.download(callerId, params.id, query.variant, isMember);
    if (!query.redirect) return { status: 200, body: { url: link.url, expiresAt: link.expiresAt.toISOString() } };
    res.redirect(302, link.url);
    return ANSWERED;
  });

  return router;
}
