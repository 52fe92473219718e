/** `GET /api/users/me`, `GET /api/users?q=` (username prefix search) and `GET /api/users/:id`. */
import { Router } from "express";
import { Types } from "mongoose";

import { NotFoundError } from "@parley/shared/errors";
import { PUBLIC_USER_FIELDS, toPublicUser, type Models, type PublicUserDoc } from "@parley/shared/models";
import { IdParams, UserSearchQuery } from "@parley/shared/schemas";

import { callerOf } from "../http/authenticate.js";
import { parseParams, parseQuery } from "../http/validate.js";

/** `s` with every regular-expression metacharacter escaped, to match it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Routes under `/api/users`, behind authentication. */
export function usersRoutes({ models }: { models: Pick<Models, "User"> }): Router {
  const router = Router();

  router.get("/me", (_req, res) => {
    res.json({ user: toPublicUser(callerOf(res).user) });
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
