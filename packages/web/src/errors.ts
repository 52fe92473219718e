/** What the app tells a person about a failure. */
import { toParleyError } from "@parley/client";

/** A sentence for `err`, in the user's terms. */
export function describeError(err: unknown): string {
  const error = toParleyError(err);
  switch (error.code) {
    case "INVALID_CREDENTIALS":
      return "Wrong username or password.";
    case "USERNAME_TAKEN":
      return "That username is taken.";
    case "VALIDATION":
      return error.issues?.length ? error.issues.map((i) => `${i.path || "input"} ${i.message}`).join("; ") : error.message;
    case "RATE_LIMITED":
      return `Too many attempts: try again in ${Math.ceil((error.retryAfterMs ?? 1000) / 1000)} s.`;
    case "UNAVAILABLE":
      return "parley cannot be reached right now. Try again in a moment.";
    case "SESSION_REVOKED":
    case "TOKEN_EXPIRED":
    case "INVALID_TOKEN":
    case "USER_NOT_FOUND":
    case "AUTH_REQUIRED":
      return "Your session has ended. Log in again.";
    default:
      return error.message;
  }
}
