/**
 * What an HTTP answer that is not 2xx means for the SDK, whoever answered it (the API, or the object
 * store an attachment is uploaded to).
 */
import type { ErrorCode } from "@parley/protocol";

/** The error code of an HTTP status, for answers without a parley error body. */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return "AUTH_REQUIRED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  if (status === 429) return "RATE_LIMITED";
  if (status === 502 || status === 503 || status === 504) return "UNAVAILABLE";
  if (status >= 500) return "INTERNAL";
  return "VALIDATION";
}

/** `Retry-After` (seconds, or an HTTP date) in milliseconds from now. */
export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
