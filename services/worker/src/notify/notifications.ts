/**
 * Notifications for offline users, wired: the producer (the persist worker's post-write hook), the
 * queue, and the consumer with its sender. Disabled, with nothing enqueued, when no sender is configured.
 */
import type { ConnectionOptions } from "bullmq";

import type { Logger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";
import { createNotificationQueue, type NotificationQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";
import type { Message } from "@parley/protocol";

import type { JobLocks } from "../jobs.js";
import type { WorkerMetrics } from "../metrics.js";
import type { NotificationSender } from "./notification-sender.js";
import { NotificationProducer } from "./notification-producer.js";
import type { NotifyConfig } from "./notify.config.js";
import { createNotifyWorker, type NotifyWorker } from "./notify-worker.js";
import { WebhookSender } from "./webhook-sender.js";

/** What {@link startNotifications} needs. */
export interface NotificationsDeps {
  /** Redis connection for the BullMQ worker (`maxRetriesPerRequest: null`); left open. */
  queueRedis: ConnectionOptions;
  /** Commands (member cache, presence) and the producer's queue; left open. */
  redis: RedisClient;
  models: Pick<Models, "Conversation">;
  /** Only `QUEUE_PREFIX` is required; the rest defaults as in the worker's configuration. */
  config: { QUEUE_PREFIX: string; REDIS_PREFIX?: string } & Partial<NotifyConfig>;
  log: Logger;
  /** A sender to use instead of the webhook sender from the configuration (push services, tests). */
  sender?: NotificationSender;
  metrics: WorkerMetrics;
  /** @default DEFAULT_JOB_LOCKS */
  locks?: JobLocks | undefined;
}

/** Running notifications. */
export interface Notifications {
  readonly sender: NotificationSender;
  readonly queue: NotificationQueue;
  readonly producer: NotificationProducer;
  readonly worker: NotifyWorker;
  /** The persist worker's post-write hook. */
  onStored(messages: readonly Message[]): void;
  /** Waits for pending enqueues, stops the consumer (active deliveries finish), closes the queue. */
  close(): Promise<void>;
}

/**
 * Starts notifications, or returns undefined (and says so once in the log) when there is no sender:
 * neither `sender` nor `NOTIFY_WEBHOOK_URL`.
 */
export function startNotifications({ queueRedis, redis, models, config, log, sender: given, metrics, locks }: NotificationsDeps): Notifications | undefined {
  const sender = given ?? webhookSenderFrom(config);
  if (!sender) {
    log.info("notifications disabled: NOTIFY_WEBHOOK_URL is not set");
    return undefined;
  }
  const queue = createNotificationQueue(redis, config.QUEUE_PREFIX);
  queue.on("error", (err) => log.error({ err }, "notification queue error"));
  const producer = new NotificationProducer({ redis, keys: redisKeys(config.REDIS_PREFIX ?? "parley"), models, queue, log });
  const concurrency = config.NOTIFY_CONCURRENCY ?? 16;
  const worker = createNotifyWorker({ connection: queueRedis, prefix: config.QUEUE_PREFIX, sender, concurrency, log, metrics, locks });
  log.info(
    { sender: sender.name, target: sender instanceof WebhookSender ? sender.target : undefined, concurrency },
    "notifications enabled",
  );
  return {
    sender,
    queue,
    producer,
    worker,
    onStored: producer.onStored,
    async close() {
      await producer.close();
      await worker.close();
      await queue.close();
    },
  };
}

function webhookSenderFrom(config: Partial<NotifyConfig>): WebhookSender | undefined {
  if (!config.NOTIFY_WEBHOOK_URL) return undefined;
  // The worker's configuration schema has already required a secret of at least 16 characters.
  if (!config.NOTIFY_WEBHOOK_SECRET) throw new Error("NOTIFY_WEBHOOK_SECRET is required when NOTIFY_WEBHOOK_URL is set");
  return new WebhookSender({
    url: config.NOTIFY_WEBHOOK_URL,
    secret: config.NOTIFY_WEBHOOK_SECRET,
    timeoutMs: config.NOTIFY_WEBHOOK_TIMEOUT_MS ?? 5_000,
  });
}
