/**
 * `/api/conversations/:id/messages`: history pages, and sends through the same pipeline as a socket's
 * `message:send` (seq, dedupe, fan-out to every node, persistence queue).
 */
import { Router } from "express";

import { routes } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { findMemberConversation } from "../conversations/conversation-service.js";
import { callerOf } from "../http/authenticate.js";
import { routesOn } from "../http/route.js";
import { readHistory } from "../messages/history.js";

/** Message routes, mounted under `/api/conversations` behind authentication and the JSON body parser. */
export function messagesRoutes(ctx: Pick<ApiContext, "models" | "pipeline">): Router {
  const router = Router();
  const route = routesOn(router, "/api/conversations");

  route(routes["messages.history"]).handle(async ({ params, query }, _req, res) => {
    await findMemberConversation(ctx.models, params.id, callerOf(res).id);
    return { status: 200, body: await readHistory(ctx.pipeline.reader, params.id, query) };
  });

  route(routes["messages.post"]).handle(async ({ params, body }, _req, res) => {
    // Membership and existence come from the Redis cache inside the pipeline: no MongoDB read per send.
    const { message, duplicate } = await ctx.pipeline.send(callerOf(res).id, { ...body, conversationId: params.id });
    return { status: duplicate ? 200 : 201, body: { message } };
  });

  return router;
}
