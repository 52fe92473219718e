/**
 * `/api/conversations`: create (direct or group), list, read one, and change a group's members.
 * Every route on one conversation requires the caller to be a member (404 when it does not exist,
 * 403 when the caller is not in it).
 */
import { Router } from "express";

import { routes } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import {
  createDirectConversation,
  createGroupConversation,
  getConversationView,
  listConversations,
} from "../conversations/conversation-service.js";
import { addMembers, removeMember } from "../conversations/membership-service.js";
import { callerOf } from "../http/authenticate.js";
import { routesOn } from "../http/route.js";

/** Routes under `/api/conversations`, behind authentication and the JSON body parser. */
export function conversationsRoutes(ctx: ApiContext): Router {
  const router = Router();
  const route = routesOn(router, "/api/conversations");

  route(routes["conversations.create"]).handle(async ({ body }, _req, res) => {
    const callerId = callerOf(res).id;
    if (body.type === "direct") {
      const { conversation, created } = await createDirectConversation(ctx, callerId, body.userId);
      return { status: created ? 201 : 200, body: { conversation } };
    }
    return { status: 201, body: { conversation: await createGroupConversation(ctx, callerId, body.name, body.memberIds) } };
  });

  route(routes["conversations.list"]).handle(async (_input, _req, res) => ({
    status: 200,
    body: { conversations: await listConversations(ctx, callerOf(res).id) },
  }));

  route(routes["conversations.get"]).handle(async ({ params }, _req, res) => ({
    status: 200,
    body: { conversation: await getConversationView(ctx, params.id, callerOf(res).id) },
  }));

  route(routes["members.add"]).handle(async ({ params, body }, _req, res) => ({
    status: 200,
    body: { conversation: await addMembers(ctx, params.id, callerOf(res).id, body.userIds) },
  }));

  route(routes["members.remove"]).handle(async ({ params }, _req, res) => ({
    status: 200,
    body: { conversation: await removeMember(ctx, params.id, callerOf(res).id, params.userId) },
  }));

  return router;
}
