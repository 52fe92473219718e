/**
 * The API's last two middlewares: 404 for unknown routes, and the one place that turns a thrown value
 * into an HTTP status and a `{ error: WireError }` body.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";

import type { WireError } from "@parley/protocol";
import { AppError, AuthError, NotFoundError, RateLimitedError, UnavailableError, ValidationError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";

/** Answers every request that no route matched with 404 `NOT_FOUND`. */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new NotFoundError("No such route"));
}

/** The error body parsers (express.json) throw, recognisable by its `type`. */
interface BodyParserError {
  type: string;
  status: number;
}

/** What the client is told about each body-parser failure, instead of the library's own wording. */
const BODY_ERRORS: Record<string, { status: number; message: string }> = {
  "entity.parse.failed": { status: 400, message: "Malformed JSON body" },
  "entity.verify.failed": { status: 400, message: "Malformed JSON body" },
  "entity.too.large": { status: 413, message: "Request body is too large" },
  "request.size.invalid": { status: 400, message: "Request body size does not match its Content-Length" },
  "request.aborted": { status: 400, message: "Request body was not received in full" },
  "encoding.unsupported": { status: 415, message: "Unsupported content encoding" },
  "charset.unsupported": { status: 415, message: "Unsupported charset" },
  "parameters.too.many": { status: 413, message: "Too many parameters" },
};

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    err instanceof Error &&
    typeof (err as Partial<BodyParserError>).type === "string" &&
    typeof (err as Partial<BodyParserError>).status === "number"
  );
}

/** When a refusal says when to retry: a rate limit, or a service at capacity. */
function retryAfterMsOf(err: AppError): number | undefined {
  if (err instanceof RateLimitedError || err instanceof UnavailableError) return err.retryAfterMs;
  return undefined;
}

/**
 * Maps errors to responses: an {@link AppError} keeps its code and status (with `Retry-After` in whole
 * seconds, rounded up, when it has a `retryAfterMs`), a body-parser failure is a `VALIDATION` (400, 413
 * for a body over the limit), anything else is logged and answered 500 `INTERNAL` with a fixed message,
 * so no stack or driver message ever reaches a client.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // Too late for a JSON error: Express's final handler closes the connection.
      (req.log ?? log).error({ err }, "error after the response started");
      next(err);
      return;
    }
    let status: number;
    let error: WireError;
    if (err instanceof AppError) {
      status = err.status;
      error = err.toWire();
      if (err instanceof AuthError) res.setHeader("www-authenticate", 'Bearer realm="parley"');
      const retryAfterMs = retryAfterMsOf(err);
      if (retryAfterMs !== undefined) res.setHeader("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    } else if (isBodyParserError(err) && BODY_ERRORS[err.type]) {
      const known = BODY_ERRORS[err.type]!;
      status = known.status;
      error = new ValidationError(known.message).toWire();
    } else {
      (req.log ?? log).error({ err }, "request failed");
      status = 500;
      error = { code: "INTERNAL", message: "Internal error" };
    }
    res.status(status).json({ error });
  };
}
