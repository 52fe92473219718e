/** Notification settings of the worker, from the environment (merged into the worker's config schema). */
import { z } from "zod";

import { intVar } from "@parley/shared/config";

/** Shortest webhook secret accepted. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

export const notifyConfigShape = {
  /**
   * Where the webhook sender POSTs notifications for offline users (http or https). Unset: notifications
   * are disabled, and nothing is enqueued.
   */
  NOTIFY_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .optional(),
  /**
   * HMAC-SHA256 key of the `X-Parley-Signature` header, at least 16 characters. Required when
   * `NOTIFY_WEBHOOK_URL` is set. Never logged.
   */
  NOTIFY_WEBHOOK_SECRET: z.string().optional(),
  /**
   * Longest wait for the receiver's answer, in milliseconds; a timeout is retried.
   * @default 5000
   */
  NOTIFY_WEBHOOK_TIMEOUT_MS: intVar(100).max(120_000).default(5_000),
  /**
   * Notifications delivered at once by this worker process.
   * @default 16
   */
  NOTIFY_CONCURRENCY: intVar(1).max(1_000).default(16),
} as const;

/** The validated settings of {@link notifyConfigShape}. */
export type NotifyConfig = { [K in keyof typeof notifyConfigShape]: z.output<(typeof notifyConfigShape)[K]> };

/**
 * The checks across variables: a URL needs a long enough secret. For `superRefine` on the worker's
 * schema; the secret's value is never part of the message.
 */
export function checkNotifyConfig(config: Partial<NotifyConfig>, ctx: z.RefinementCtx): void {
  if (config.NOTIFY_WEBHOOK_URL === undefined) return;
  const secret = config.NOTIFY_WEBHOOK_SECRET;
  if (secret === undefined || secret.length < MIN_WEBHOOK_SECRET_LENGTH) {
    ctx.addIssue({
      code: "custom",
      path: ["NOTIFY_WEBHOOK_SECRET"],
      message:
        secret === undefined
          ? "is required when NOTIFY_WEBHOOK_URL is set"
          : `must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`,
    });
  }
}
