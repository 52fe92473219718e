/**
 * Every error a client can see: the fixed list of wire codes, their HTTP statuses, which of them are
 * worth retrying, and the error shape on the wire.
 *
 * Clients only ever receive a {@link WireError}: a code from {@link ERROR_CODES} and a human-readable
 * message. Stacks and driver messages never leave the server; unknown errors become `INTERNAL`.
 */

/** HTTP status of each wire code. The keys are the complete, fixed list of codes a client can receive. */
export const ERROR_STATUS = {
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
  /** The user's attachments already take the bytes they may store (`ATTACHMENT_QUOTA_BYTES`); deleting some frees room. */
  QUOTA_EXCEEDED: 403,
  /** The user already has `MAX_SOCKETS_PER_USER` sockets connected across the cluster. */
  TOO_MANY_CONNECTIONS: 429,
  /** The client announced a protocol major version this server does not speak (handshake `auth.protocol`). */
  UNSUPPORTED_PROTOCOL: 400,
  /** Something failed on our side; the message says nothing more on purpose. */
  INTERNAL: 500,
  /** A dependency (Redis, MongoDB) is unavailable; retrying later is safe. */
  UNAVAILABLE: 503,
} as const satisfies Record<string, number>;

/** Every error code a client can receive. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The fixed list of error codes, for schemas and documentation. */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

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

/**
 * Codes after which the same request may succeed unchanged, later: `RATE_LIMITED` (after
 * `retryAfterMs`), `UNAVAILABLE` (a dependency is down or the server is at capacity), `CONFLICT` (a
 * concurrent change won) and `INTERNAL`. Every other code needs a different request, a new token or the
 * user.
 */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["RATE_LIMITED", "UNAVAILABLE", "CONFLICT", "INTERNAL"]);

/** Whether a request that failed with `code` may succeed if sent again unchanged. */
export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE_CODES.has(code);
}
