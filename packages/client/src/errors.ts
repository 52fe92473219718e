/**
 * The one error type the SDK surfaces: a protocol error code, whether the same request may succeed
 * later, and what the server said.
 */
import { ERROR_STATUS, isRetryable, type ErrorCode, type FieldIssue, type WireError } from "@parley/protocol";

/** An error from the server (a REST answer, an acknowledgement, `connect_error`) or from the SDK itself. */
export class ParleyError extends Error {
  /** A code from the protocol's fixed list (`ERROR_CODES`). */
  readonly code: ErrorCode;
  /** Whether sending the same request again, later, may succeed (see `RETRYABLE_CODES`). */
  readonly retryable: boolean;
  /** With `RATE_LIMITED`, and `UNAVAILABLE` at capacity: milliseconds until a retry makes sense. */
  readonly retryAfterMs: number | undefined;
  /** With `VALIDATION`: one entry per invalid field. */
  readonly issues: readonly FieldIssue[] | undefined;
  /** The HTTP status, for errors of REST calls. */
  readonly status: number | undefined;

  constructor(wire: WireError, options?: ErrorOptions & { status?: number }) {
    super(wire.message, options);
    this.name = "ParleyError";
    this.code = wire.code;
    this.retryable = isRetryable(wire.code);
    this.retryAfterMs = wire.retryAfterMs;
    this.issues = wire.issues;
    this.status = options?.status;
  }

  /** The error as it travels: for logs, and for storing a failed message in an outbox. */
  toJSON(): WireError {
    return {
      code: this.code,
      message: this.message,
      ...(this.issues && { issues: [...this.issues] }),
      ...(this.retryAfterMs !== undefined && { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/**
 * `value` as a {@link ParleyError}: itself, the wire error of an acknowledgement or `connect_error`
 * (`err.data`), or `UNAVAILABLE` for a network failure (no answer, so a retry may work).
 */
export function toParleyError(value: unknown): ParleyError {
  if (value instanceof ParleyError) return value;
  const wire = wireErrorOf(value);
  if (wire) return new ParleyError(wire);
  const message = value instanceof Error ? value.message : String(value);
  return new ParleyError({ code: "UNAVAILABLE", message: `No answer from the server: ${message}` }, { cause: value });
}

/**
 * The wire error in `value`: the value itself, or the `data` of a `connect_error`, which carries the code
 * alone (`{ code }`) while its message is the error's own.
 */
function wireErrorOf(value: unknown): WireError | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const hasData = "data" in value && typeof value.data === "object" && value.data !== null;
  const candidate = (hasData ? value.data : value) as { code?: unknown; message?: unknown };
  const outer = (value as { message?: unknown }).message;
  const message = typeof candidate.message === "string" ? candidate.message : hasData ? outer : undefined;
  if (typeof candidate.code !== "string" || typeof message !== "string") return undefined;
  // A code from a newer server (a minor version may add codes) is handled as INTERNAL.
  const code = isErrorCode(candidate.code) ? candidate.code : "INTERNAL";
  return { ...(candidate as WireError), code, message };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}
