/**
 * `/api/conversations/:id/messages`: history pages, and sends through the same pipeline as a socket's
 * `message:send` (seq, dedupe, fan-out to every node, persistence queue).
 */
import { Router } from "express";

import { HistoryQuery, IdParams, PostMessageBody } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { findMemberConversation } from "../conversations/conversation-service.js";
import { callerOf } from "../http/authenticate.js";
import { parseBody, parseParams, parseQuery } from "../http/validate.js";
import { readHistory } from "../messages/history.js";

/** Message routes, mounted under `/api/conversations` behind authentication and the JSON body parser. */
export function messagesRoutes(ctx: Pick<ApiContext, "models" | "pipeline">): Router {
  const router = Router();

  router.get("/:id/messages", async (req, res) => {
    const { id } = parseParams(req, IdParams);
    const page = parseQuery(req, HistoryQuery);
    await findMemberConversation(ctx.models, id, callerOf(res).id);
    res.json(await readHistory(ctx.pipeline.reader, id, page));
  });

  router.post("/:id/messages", async (req, res) => {
    const { id } = parseParams(req, IdParams);
    const body = parseBody(req, PostMessageBody);
    // Membership and existence come from the Redis cache inside the pipeline: no MongoDB read per send.
    const { message, duplicate } = await ctx.pipeline.send(callerOf(res).id, { ...body, conversationId: id });
    res.status(duplicate ? 200 : 201).json({ message });
  });

  return router;
}
