/**
 * CORS for the web app: pages of the allowed origins (`CORS_ORIGINS`, by default the one public origin)
 * may call the API from the browser; pages of any other origin get no CORS header at all, so the
 * browser keeps the answer from them. Requests without `Origin` (native apps, servers, same-origin
 * GETs) are not affected. Tokens travel in `Authorization`, never in cookies, so no credentials mode.
 */
import cors from "cors";
import type { RequestHandler } from "express";

import { REQUEST_ID_HEADER } from "./request-id.js";

/** How long a browser may cache a preflight answer, in seconds. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Answers preflights (`OPTIONS` with `Access-Control-Request-Method`) from `origins` with 204, and puts
 * `Access-Control-Allow-Origin` on their other requests; allows the `Authorization` and `Content-Type`
 * request headers and exposes `Retry-After` and `X-Request-Id`. Every answer to a request with an
 * `Origin` varies by it, for caches.
 */
export function crossOrigin(origins: ReadonlySet<string>): RequestHandler {
  const allowed = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && origins.has(origin) ? origin : false),
    methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: ["Authorization", "Content-Type"],
    exposedHeaders: ["Retry-After", REQUEST_ID_HEADER],
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
    optionsSuccessStatus: 204,
  });
  return (req, res, next) => {
    if (req.headers.origin === undefined) return next();
    res.vary("Origin");
    allowed(req, res, next);
  };
}
