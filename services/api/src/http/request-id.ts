/** A request id on every request and response, for following one request through the logs. */
import { randomUUID } from "node:crypto";

import type { RequestHandler } from "express";

/** The header a proxy or client may set, and that every response carries. */
export const REQUEST_ID_HEADER = "x-request-id";

/** What a caller-provided id may look like: short, and nothing that could forge a log line. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is a sane token, otherwise a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === "string" && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** Sets `req.id` (which pino-http then logs) and echoes it in the `x-request-id` response header. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    next();
  };
}
