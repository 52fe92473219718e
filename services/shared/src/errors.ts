/**
 * Every error a client can see, and the one place that maps errors to wire codes and HTTP statuses.
 *
 * Clients only ever receive a {@link WireError}: a code from {@link ERROR_CODES} and a human-readable
 * message. Stacks and driver messages never leave the process; unknown errors become `INTERNAL`.
 */

/** HTTP status of each wire code. The keys are the complete, fixed list of codes a client can receive. */
const STATUS = {
  /** The payload, body or query failed validation. */
  VALIDATION: 400,
  /** No token was presented. */
  AUTH_REQUIRED: 401,
  /** The token is malformed, wrongly signed or uses another algorithm. */
  INVALID_TOKEN: 401,
  /** The token was valid but has expired. */
  TOKEN_EXPIRED: 401,
  /** The token names a user that does not exist (any more). */
  USER_NOT_FOUND: 401,
  /** The token's session was revoked (logout, password change, account deletion, refresh token reuse). */
  SESSION_REVOKED: 401,
  /** Wrong username or password. */
  INVALID_CREDENTIALS: 401,
  /** The caller may not do this (for example: not a member of the conversation). */
  FORBIDDEN: 403,
  /** The resource does not exist, or is not visible to the caller. */
  NOT_FOUND: 404,
  /** The username is already registered. */
  USERNAME_TAKEN: 409,
  /** The request conflicts with the current state; retrying may succeed. */
  CONFLICT: 409,
  /** The callee or the caller is already in a call. */
  BUSY: 409,
  /** The caller sent too much, too fast; `retryAfterMs` says when to try again. */
  RATE_LIMITED: 429,
  /** The user already has `MAX_SOCKETS_PER_USER` sockets connected across the cluster. */
  TOO_MANY_CONNECTIONS: 429,
  /** Something failed on our side; the message says nothing more on purpose. */
  INTERNAL: 500,
  /** A dependency (Redis, MongoDB) is unavailable; retrying later is safe. */
  UNAVAILABLE: 503,
} as const satisfies Record<string, number>;

/** Every error code a client can receive. */
export type ErrorCode = keyof typeof STATUS;

/** The fixed list of error codes, for schemas and documentation. */
export const ERROR_CODES = Object.keys(STATUS) as ErrorCode[];

/** One validation problem, with the path of the offending field. */
export interface FieldIssue {
  /** Dotted path of the field, empty for the payload itself. */
  path: string;
  message: string;
}

/** The error shape on the wire, in socket acks, `error` events and REST bodies (`{ error }`). */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** Present on `VALIDATION`: one entry per invalid field. */
  issues?: FieldIssue[];
  /** Present on `RATE_LIMITED`, and on `UNAVAILABLE` when the server is at capacity: milliseconds until the caller may retry. */
  retryAfterMs?: number;
}

/** Base class of every error that is allowed to reach a client with its own code and message. */
export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = this.constructor.name;
  }

  /** The HTTP status that goes with this error's code. */
  get status(): number {
    return STATUS[this.code];
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

/** A handshake refused because the user has too many sockets connected across the cluster. */
export class TooManyConnectionsError extends AppError {
  readonly code = "TOO_MANY_CONNECTIONS";
}

/** The wire form of any thrown value: an {@link AppError} keeps its code, anything else is `INTERNAL`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return err.toWire();
  return { code: "INTERNAL", message: "Internal error" };
}

/** HTTP status for any thrown value, consistent with {@link toWireError}. */
export function httpStatusOf(err: unknown): number {
  return err instanceof AppError ? err.status : STATUS.INTERNAL;
}
