/**
 * `GET /api/users/me`, the caller's blocks (`GET`, `POST /api/users/me/blocks`,
 * `DELETE /api/users/me/blocks/:userId`), `GET /api/users?q=` (username prefix search) and
 * `GET /api/users/:id`.
 */
import { Router } from "express";
import { Types } from "mongoose";

import { NotFoundError } from "@parley/shared/errors";
import { PUBLIC_USER_FIELDS, toPublicUser, type PublicUserDoc } from "@parley/shared/models";
import { BlockBody, IdParams, UserSearchQuery } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { callerOf } from "../http/authenticate.js";
import { parseBody, parseParams, parseQuery } from "../http/validate.js";
import { blockUser, listBlocks, unblockUser } from "../users/blocks.js";

/** `s` with every regular-expression metacharacter escaped, to match it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** The path of `DELETE /api/users/me/blocks/:userId`: the same `{ userId }` as the body of a block. */
const BlockParams = BlockBody;

/** Routes under `/api/users`, behind authentication and the JSON body parser. */
export function usersRoutes(ctx: Pick<ApiContext, "models" | "cache" | "blocks">): Router {
  const { models } = ctx;
  const router = Router();

  router.get("/me", (_req, res) => {
    res.json({ user: toPublicUser(callerOf(res).user) });
  });

  router.get("/me/blocks", async (_req, res) => {
    res.json({ blocks: await listBlocks(ctx, callerOf(res).id) });
  });

  router.post("/me/blocks", async (req, res) => {
    const { userId } = parseBody(req, BlockBody);
    res.json({ block: await blockUser(ctx, callerOf(res).id, userId) });
  });

  router.delete("/me/blocks/:userId", async (req, res) => {
    const { userId } = parseParams(req, BlockParams);
    await unblockUser(ctx, callerOf(res).id, userId);
    res.status(204).end();
  });

  router.get("/", async (req, res) => {
    const { q, limit } = parseQuery(req, UserSearchQuery);
    // Anchored and case-folded, so the unique index on usernameLower serves it as a range scan. Never a
    // deleted account (whose usernameLower, `deleted:<id>`, a query with ':' would otherwise match).
    const filter = { usernameLower: { $regex: `^${escapeRegExp(q.toLowerCase())}` }, deletedAt: null };
    const users = await models.User.find(filter, PUBLIC_USER_FIELDS)
      .sort({ usernameLower: 1 })
      .limit(limit)
      .lean<PublicUserDoc[]>()
      .exec();
    res.json({ users: users.map(toPublicUser) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = parseParams(req, IdParams);
    // A deleted account is found too, and shown as "Deleted user": its messages still name it.
    const user = await models.User.findById(new Types.ObjectId(id), PUBLIC_USER_FIELDS).lean<PublicUserDoc>().exec();
    if (!user) throw new NotFoundError("User not found");
    res.json({ user: toPublicUser(user) });
  });

  return router;
}
