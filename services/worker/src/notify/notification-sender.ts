/**
 * How a notification leaves parley: a pluggable sender. The worker ships a webhook sender; push services
 * (APNs, FCM, Web Push) or e-mail plug in behind the same interface.
 */
import type { Message } from "@parley/protocol";

/** One notification: `userId` had no live socket when `message` arrived in one of their conversations. */
export interface MessageNotification {
  type: "message";
  /** The recipient. */
  userId: string;
  message: Message;
}

/** Everything a sender may be asked to deliver (only messages for now). */
export type Notification = MessageNotification;

/** About the delivery attempt, for idempotency keys and logs. */
export interface DeliveryContext {
  /** Stable across retries of one notification (the job id `n-<message id>-<user id>`). */
  deliveryId: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/**
 * Delivers notifications. `send` resolves once the notification is accepted by the other side. It
 * rejects with {@link PermanentDeliveryError} when retrying cannot help (the job fails for good), and
 * with any other error for a transient failure (retried with backoff).
 */
export interface NotificationSender {
  /** Shown in logs. */
  readonly name: string;
  send(notification: Notification, context: DeliveryContext): Promise<void>;
}

/** A delivery that can never succeed as it is (rejected by the receiver, a 4xx other than 408/429). */
export class PermanentDeliveryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** A transient failure whose receiver said when to come back (`Retry-After`). */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    /** Milliseconds the receiver asked us to wait before the next attempt. */
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = this.constructor.name;
  }
}
