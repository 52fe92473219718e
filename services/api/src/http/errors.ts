/**
 * The API's last two middlewares: 404 for unknown routes, and the one place that turns a thrown value
 * into an HTTP status and a `{ error: WireError }` body.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";

import type { WireError } from "@parley/protocol";
import { AppError, AuthError, NotFoundError, ValidationError, httpStatusOf, logFailure, toWireError } from "@parley/shared/errors";
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

/** `Retry-After` of an `UNAVAILABLE` that names no time: a dependency outage, usually short. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/**
 * The `Retry-After` header of an answer, in whole seconds: `retryAfterMs` rounded up when the error has
 * one, {@link UNAVAILABLE_RETRY_AFTER_SECONDS} for any other `UNAVAILABLE`, none otherwise.
 */
function retryAfterSeconds(error: WireError): number | undefined {
  if (error.retryAfterMs !== undefined) return Math.max(1, Math.ceil(error.retryAfterMs / 1000));
  return error.code === "UNAVAILABLE" ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined;
}

/**
 * Maps errors to responses through `toWireError` and `httpStatusOf`, the mapping the gateways use: an
 * {@link AppError} keeps its code and status, an unavailable Redis or MongoDB is 503 `UNAVAILABLE`,
 * anything else is 500 `INTERNAL` with a fixed message, so no stack or driver message ever reaches a
 * client; a body-parser failure is a `VALIDATION` (400, 413 for a body over the limit). `RATE_LIMITED`
 * and `UNAVAILABLE` carry a `Retry-After` header, 401s a `WWW-Authenticate` challenge.
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
    if (!(err instanceof AppError) && isBodyParserError(err) && BODY_ERRORS[err.type]) {
      const known = BODY_ERRORS[err.type]!;
      status = known.status;
      error = new ValidationError(known.message).toWire();
    } else {
      logFailure(req.log ?? log, err, {}, "request failed");
      status = httpStatusOf(err);
      error = toWireError(err);
      if (err instanceof AuthError) res.setHeader("www-authenticate", 'Bearer realm="parley"');
      const retryAfter = retryAfterSeconds(error);
      if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
    }
    res.status(status).json({ error });
  };
}
