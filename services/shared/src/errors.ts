/**
 * The server's error classes, and the one place that maps thrown values to wire errors and HTTP statuses
 * (with dependency-errors.ts, which recognises a Redis or MongoDB outage).
 * The codes themselves, their statuses and the wire shape are the protocol's (`@parley/protocol`).
 */

import { ERROR_STATUS, type ErrorCode, type FieldIssue, type WireError } from "@parley/protocol";

import { isDependencyUnavailable } from "./dependency-errors.js";
import type { Logger } from "./logger.js";

/** Base class of every error that is allowed to reach a client with its own code and message. */
export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = this.constructor.name;
  }

  /** The HTTP status that goes with this error's code. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

export class ValidationError extends AppError {
  readonly code = "VALIDATION";

  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }

  override toWire(): WireError {
    return { code: this.code, message: this.message, issues: this.issues };
  }
}

export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
}

export class NotFoundError extends AppError {
  readonly code = "NOT_FOUND";
}

export class ConflictError extends AppError {
  readonly code = "CONFLICT";
}

export class BusyError extends AppError {
  readonly code = "BUSY";
}

export class UsernameTakenError extends AppError {
  readonly code = "USERNAME_TAKEN";
}

export class InvalidCredentialsError extends AppError {
  readonly code = "INVALID_CREDENTIALS";
}

/** Codes of {@link AuthError}: why a token or handshake was refused. */
export type AuthErrorCode = "AUTH_REQUIRED" | "INVALID_TOKEN" | "TOKEN_EXPIRED" | "USER_NOT_FOUND" | "SESSION_REVOKED";

/** A refused token. One class for the ways a token can fail, told apart by `code`. */
export class AuthError extends AppError {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";

  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }

  override toWire(): WireError {
    return { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/** A dependency is down, or the process is at capacity; the operation did not happen and may be retried. */
export class UnavailableError extends AppError {
  readonly code = "UNAVAILABLE";
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options?: ErrorOptions & {
      /** When a retry makes sense, in milliseconds (sent as `Retry-After` on REST). */
      retryAfterMs?: number;
    },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }

  override toWire(): WireError {
    return this.retryAfterMs === undefined ? super.toWire() : { code: this.code, message: this.message, retryAfterMs: this.retryAfterMs };
  }
}

/** A handshake refused because the client announced a protocol version this server does not speak. */
export class UnsupportedProtocolError extends AppError {
  readonly code = "UNSUPPORTED_PROTOCOL";
}

/** A handshake refused because the user has too many sockets connected across the cluster. */
export class TooManyConnectionsError extends AppError {
  readonly code = "TOO_MANY_CONNECTIONS";
}

/** An upload refused because the user's attachments already take the bytes they may store. */
export class QuotaExceededError extends AppError {
  readonly code = "QUOTA_EXCEEDED";
}

/** What a client is told when a dependency is unavailable: never the driver's own message. */
const UNAVAILABLE_WIRE: WireError = { code: "UNAVAILABLE", message: "Service temporarily unavailable, retry shortly" };
const INTERNAL_WIRE: WireError = { code: "INTERNAL", message: "Internal error" };

/**
 * The wire form of any thrown value: an {@link AppError} keeps its code, a failure that says Redis or
 * MongoDB is unavailable ({@link isDependencyUnavailable}) is `UNAVAILABLE`, anything else is
 * `INTERNAL`. The message of anything but an AppError is a fixed one.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return err.toWire();
  return isDependencyUnavailable(err) ? { ...UNAVAILABLE_WIRE } : { ...INTERNAL_WIRE };
}

/** HTTP status for any thrown value, consistent with {@link toWireError}: 503 for an unavailable dependency. */
export function httpStatusOf(err: unknown): number {
  if (err instanceof AppError) return err.status;
  return isDependencyUnavailable(err) ? ERROR_STATUS.UNAVAILABLE : ERROR_STATUS.INTERNAL;
}

/**
 * Logs a failure that is about to be answered (an event, a handshake, a request), with the original
 * error: nothing for an {@link AppError} (the client is told why, and the code is counted), `warn` for an
 * unavailable dependency (an outage, already reported by the clients' own error listeners), `error` for
 * anything else (a bug).
 */
export function logFailure(log: Logger, err: unknown, bindings: Record<string, unknown>, message: string): void {
  if (err instanceof AppError) return;
  if (isDependencyUnavailable(err)) log.warn({ ...bindings, err }, `${message}: a dependency is unavailable`);
  else log.error({ ...bindings, err }, message);
}
