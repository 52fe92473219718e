/**
 * The webhook sender: each notification is an HTTP POST of JSON `{ type: "message", userId, message }`,
 * signed with HMAC-SHA256 over `<timestamp>.<body>`:
 *
 * ```
 * X-Parley-Timestamp: 1767312000                 (Unix seconds)
 * X-Parley-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 * X-Parley-Delivery:  n-<message id>-<user id>   (the same on every retry: deduplicate on it)
 * X-Parley-Attempt:   1, 2, …
 * ```
 *
 * Any 2xx accepts it. 5xx, 408, 429, network errors and timeouts are retried with backoff (a
 * `Retry-After` is honoured); any other answer (4xx, 3xx) fails the notification for good.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

import { PermanentDeliveryError, RetryLaterError, type DeliveryContext, type Notification, type NotificationSender } from "./notification-sender.js";

/** Statuses worth another attempt: the receiver failed or asked us to slow down. */
const RETRYABLE_STATUSES = new Set([408, 429]);
/** The longest `Retry-After` honoured; a longer one is cut to this. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** What a {@link WebhookSender} needs. */
export interface WebhookSenderOptions {
  /** Where to POST (http or https). */
  url: string;
  /** HMAC key, at least 16 characters. Never logged. */
  secret: string;
  /** Longest wait for the receiver's response headers, in milliseconds. */
  timeoutMs: number;
  /** @default "parley-notify" */
  userAgent?: string;
}

/** The `X-Parley-Signature` value of `body` sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** What a receiver checks with {@link verifyWebhook}. */
export interface WebhookVerification {
  secret: string;
  /** The raw request body, exactly as received (before any JSON parsing). */
  body: string;
  /** `X-Parley-Timestamp`. */
  timestamp: string | undefined;
  /** `X-Parley-Signature`. */
  signature: string | undefined;
  /**
   * Oldest (or furthest in the future) timestamp accepted, in seconds, against replays.
   * @default 300
   */
  toleranceSeconds?: number;
  /** Current time in ms. @default Date.now() */
  now?: number;
}

/**
 * Whether a received webhook is authentic and fresh: the signature matches (compared in constant time)
 * and the timestamp is within the tolerance. This is what a receiver written in Node.js should do.
 */
export function verifyWebhook({ secret, body, timestamp, signature, toleranceSeconds = 300, now = Date.now() }: WebhookVerification): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Sends notifications as signed HTTP POSTs to one URL. */
export class WebhookSender implements NotificationSender {
  readonly name = "webhook";
  // A private field, so the secret never shows up when the sender is logged or inspected.
  readonly #secret: string;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor({ url, secret, timeoutMs, userAgent = "parley-notify" }: WebhookSenderOptions) {
    this.#secret = secret;
    this.url = url;
    this.timeoutMs = timeoutMs;
    this.userAgent = userAgent;
  }

  /** Where notifications go, without any credentials or query the URL may hold (for logs). */
  get target(): string {
    const url = new URL(this.url);
    return `${url.protocol}//${url.host}${url.pathname}`;
  }

  async send(notification: Notification, { deliveryId, attempt }: DeliveryContext): Promise<void> {
    const body = JSON.stringify({ type: notification.type, userId: notification.userId, message: notification.message });
    const timestamp = Math.floor(Date.now() / 1000);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": this.userAgent,
          "x-parley-timestamp": String(timestamp),
          "x-parley-signature": signWebhook(this.#secret, timestamp, body),
          "x-parley-delivery": deliveryId,
          "x-parley-attempt": String(attempt),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = err instanceof Error && err.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : "request failed";
      throw new Error(`webhook ${reason}`, { cause: err });
    }
    // Nothing in the answer matters but its status; release the connection at once.
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return;
    if (res.status >= 500 || RETRYABLE_STATUSES.has(res.status)) {
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      const message = `webhook answered ${res.status}`;
      throw retryAfterMs === undefined ? new Error(message) : new RetryLaterError(message, retryAfterMs);
    }
    throw new PermanentDeliveryError(`webhook answered ${res.status}; not retried`);
  }
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds, capped; undefined if absent or invalid. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
