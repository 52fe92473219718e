/**
 * `/api/conversations`: create (direct or group), list, read one, and change a group's members.
 * Every route on one conversation requires the caller to be a member (404 when it does not exist,
 * 403 when the caller is not in it).
 */
import { Router } from "express";

import { AddMembersBody, CreateConversationBody, IdParams, ObjectIdString } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import {
  createDirectConversation,
  createGroupConversation,
  getConversationView,
  listConversations,
} from "../conversations/conversation-service.js";
import { addMembers, removeMember } from "../conversations/membership-service.js";
import { callerOf } from "../http/authenticate.js";
import { parseBody, parseParams } from "../http/validate.js";

const MemberParams = IdParams.extend({ userId: ObjectIdString });

/** Routes under `/api/conversations`, behind authentication and the JSON body parser. */
export function conversationsRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post("/", async (req, res) => {
    const callerId = callerOf(res).id;
    const body = parseBody(req, CreateConversationBody);
    if (body.type === "direct") {
      const { conversation, created } = await createDirectConversation(ctx, callerId, body.userId);
      res.status(created ? 201 : 200).json({ conversation });
      return;
    }
    const conversation = await createGroupConversation(ctx, callerId, body.name, body.memberIds);
    res.status(201).json({ conversation });
  });

  router.get("/", async (_req, res) => {
    res.json({ conversations: await listConversations(ctx, callerOf(res).id) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = parseParams(req, IdParams);
    res.json({ conversation: await getConversationView(ctx, id, callerOf(res).id) });
  });

  router.post("/:id/members", async (req, res) => {
    const { id } = parseParams(req, IdParams);
    const { userIds } = parseBody(req, AddMembersBody);
    res.json({ conversation: await addMembers(ctx, id, callerOf(res).id, userIds) });
  });

  router.delete("/:id/members/:userId", async (req, res) => {
    const { id, userId } = parseParams(req, MemberParams);
    res.json({ conversation: await removeMember(ctx, id, callerOf(res).id, userId) });
  });

  return router;
}
