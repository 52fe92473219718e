/**
 * `GET /api/users/me`, the caller's blocks (`GET`, `POST /api/users/me/blocks`,
 * `DELETE /api/users/me/blocks/:userId`), `GET /api/users?q=` (username prefix search) and
 * `GET /api/users/:id`.
 */
import { Router } from "express";
import { Types } from "mongoose";

import { NotFoundError } from "@parley/shared/errors";
import { PUBLIC_USER_FIELDS, toPublicUser, type PublicUserDoc } from "@parley/shared/models";
import { routes } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { callerOf } from "../http/authenticate.js";
import { routesOn } from "../http/route.js";
import { blockUser, listBlocks, unblockUser } from "../users/blocks.js";

/** `s` with every regular-expression metacharacter escaped, to match it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Routes under `/api/users`, behind authentication and the JSON body parser. */
export function usersRoutes(ctx: Pick<ApiContext, "models" | "cache" | "blocks">): Router {
  const { models } = ctx;
  const router = Router();
  const route = routesOn(router, "/api/users");

  route(routes["users.me"]).handle(async (_input, _req, res) => ({ status: 200, body: { user: toPublicUser(callerOf(res).user) } }));

  route(routes["blocks.list"]).handle(async (_input, _req, res) => ({ status: 200, body: { blocks: await listBlocks(ctx, callerOf(res).id) } }));

  route(routes["blocks.add"]).handle(async ({ body }, _req, res) => ({
    status: 200,
    body: { block: await blockUser(ctx, callerOf(res).id, body.userId) },
  }));

  route(routes["blocks.remove"]).handle(async ({ params }, _req, res) => {
    await unblockUser(ctx, callerOf(res).id, params.userId);
    return { status: 204 };
  });

  route(routes["users.search"]).handle(async ({ query: { q, limit } }) => {
    // Anchored and case-folded, so the unique index on usernameLower serves it as a range scan. Never a
    // deleted account (whose usernameLower, `deleted:<id>`, a query with ':' would otherwise match).
    const filter = { usernameLower: { $regex: `^${escapeRegExp(q.toLowerCase())}` }, deletedAt: null };
    const users = await models.User.find(filter, PUBLIC_USER_FIELDS)
      .sort({ usernameLower: 1 })
      .limit(limit)
      .lean<PublicUserDoc[]>()
      .exec();
    return { status: 200, body: { users: users.map(toPublicUser) } };
  });

  route(routes["users.get"]).handle(async ({ params }) => {
    // A deleted account is found too, and shown as "Deleted user": its messages still name it.
    const user = await models.User.findById(new Types.ObjectId(params.id), PUBLIC_USER_FIELDS).lean<PublicUserDoc>().exec();
    if (!user) throw new NotFoundError("User not found");
    return { status: 200, body: { user: toPublicUser(user) } };
  });

  return router;
}
