/**
 * Rate limits of REST routes, on the same cluster-wide buckets as the gateways' (a message posted here
 * and one sent on a socket take from one `message` bucket). A refusal is `429 RATE_LIMITED` with a
 * `Retry-After` header in whole seconds (set by the error handler) and `retryAfterMs` in the body.
 *
 * The limits that depend on what a request does, not only on its route (logins, registrations, new
 * conversations), are checked by the services themselves (`AccountLimits`, the conversation services).
 */
import type { Request, RequestHandler, Response } from "express";

import type { RateAction, RateLimiter } from "@parley/shared/rate-limit";

import { RefreshTokens } from "../auth/refresh-tokens.js";
import { callerOf } from "./authenticate.js";

/** Options of {@link limitRequests}. */
export interface LimitRequestsOptions {
  /** Whose bucket a request takes from; undefined lets the request through unlimited. */
  subject(req: Request, res: Response): string | undefined;
  /** Which requests are limited. @default every request */
  when?(req: Request): boolean;
}

/** Takes one token of `action` per request before the route runs. */
export function limitRequests(limiter: RateLimiter, action: RateAction, options: LimitRequestsOptions): RequestHandler {
  return async (req, res, next) => {
    if (options.when && !options.when(req)) return next();
    const subject = options.subject(req, res);
    if (subject === undefined) return next();
    await limiter.check(subject, action);
    next();
  };
}

/**
 * `POST /:id/messages` under `/api/conversations`, per caller, before the body is parsed. Must run
 * after `authenticate`.
 */
export function limitMessagePosts(limiter: RateLimiter): RequestHandler {
  return limitRequests(limiter, "message", {
    when: (req) => req.method === "POST" && /^\/[^/]+\/messages\/?$/.test(req.path),
    subject: (_req, res) => callerOf(res).id,
  });
}

/**
 * `POST /refresh` under `/api/auth`, per session (named by the refresh token's first part, before the
 * token is checked). Must run after the JSON body parser; a body without a token is left to the route.
 */
export function limitRefreshes(limiter: RateLimiter): RequestHandler {
  return limitRequests(limiter, "refresh", {
    when: (req) => req.method === "POST" && /^\/refresh\/?$/.test(req.path),
    subject: (req) => {
      const token: unknown = (req.body as { refreshToken?: unknown } | undefined)?.refreshToken;
      return typeof token === "string" ? RefreshTokens.parse(token)?.sessionId : undefined;
    },
  });
}

/**
 * `GET /?q=` under `/api/users` (the username search), per caller, valid query or not. Must run after
 * `authenticate`.
 */
export function limitSearches(limiter: RateLimiter): RequestHandler {
  return limitRequests(limiter, "search", {
    // HEAD runs the GET handler too.
    when: (req) => (req.method === "GET" || req.method === "HEAD") && /^\/?$/.test(req.path),
    subject: (_req, res) => callerOf(res).id,
  });
}
