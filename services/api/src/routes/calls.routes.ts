/** `GET /api/calls/ice-servers`: the STUN and TURN servers of the caller's calls. */
import { Router } from "express";

import { routes } from "@parley/protocol";

import { iceServersFor } from "../calls/ice-servers.js";
import type { ApiContext } from "../context.js";
import { callerOf } from "../http/authenticate.js";
import { routesOn } from "../http/route.js";

/** Routes under `/api/calls`, behind authentication. */
export function callsRoutes(ctx: Pick<ApiContext, "config">): Router {
  const router = Router();
  const route = routesOn(router, "/api/calls");

  route(routes["calls.iceServers"]).handle(async (_input, _req, res) => ({ status: 200, body: iceServersFor(ctx.config, callerOf(res).id) }));

  return router;
}
