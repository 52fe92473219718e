/** `POST /api/auth/register` and `POST /api/auth/login`: the only routes without a token. */
import { Router } from "express";

import { LoginBody, RegisterBody } from "@parley/shared/schemas";

import { login, register, type AccountDeps } from "../auth/accounts.js";
import { clientAddress } from "../http/client-address.js";
import { parseBody } from "../http/validate.js";

/** Routes under `/api/auth`; the JSON body parser runs before them. */
export function authRoutes(deps: AccountDeps): Router {
  const router = Router();

  router.post("/register", async (req, res) => {
    res.status(201).json(await register(deps, parseBody(req, RegisterBody), { address: clientAddress(req) }));
  });

  router.post("/login", async (req, res) => {
    res.status(200).json(await login(deps, parseBody(req, LoginBody), { address: clientAddress(req) }));
  });

  return router;
}
