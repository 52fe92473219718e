/**
 * The worker, wired from the dependencies it is given. `index.ts` passes real connections; tests pass
 * their own Redis and database.
 */
import type { ConnectionOptions } from "bullmq";

import { createEmitter } from "@parley/shared/emitter";
import type { Logger } from "@parley/shared/logger";
import { Registry } from "@parley/shared/metrics";
import type { Models } from "@parley/shared/models";
import { QUEUE_NAMES, createPersistQueue, type PersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";

import type { WorkerConfig } from "./config.js";
import { WorkerMetrics } from "./metrics.js";
import { MessageStore } from "./persist/message-store.js";
import { StateStore } from "./persist/state-store.js";
import { createPersistWorker, type PersistWorker } from "./persist/persist-worker.js";
import type { NotificationSender } from "./notify/notification-sender.js";
import type { NotifyConfig } from "./notify/notify.config.js";
import { startNotifications, type Notifications } from "./notify/notifications.js";

/** What {@link createWorker} needs. */
export interface WorkerDeps {
  /**
   * Redis connection for BullMQ, with `maxRetriesPerRequest: null` (`createRedis` with
   * `blocking: true`). Left open by {@link ParleyWorker.close}.
   */
  queueRedis: ConnectionOptions;
  /** Redis connection the emitter publishes on. Left open by {@link ParleyWorker.close}. */
  redis: RedisClient;
  /** Models bound to an open connection, indexes built. */
  models: Pick<Models, "Message" | "Conversation" | "Receipt" | "User">;
  config: Pick<WorkerConfig, "QUEUE_PREFIX" | "PERSIST_BATCH_SIZE" | "PERSIST_BATCH_WAIT_MS" | "PERSIST_MAX_CONCURRENT_WRITES"> &
    Partial<Pick<WorkerConfig, "REDIS_PREFIX"> & NotifyConfig>;
  log: Logger;
  /** Delivers notifications instead of the webhook sender of `NOTIFY_WEBHOOK_URL` (which may then be unset). */
  notificationSender?: NotificationSender;
  /**
   * Where the worker records its metrics; `index.ts` passes them on the registry it serves.
   * @default metrics on a registry of their own, which nothing serves
   */
  metrics?: WorkerMetrics;
}

/** A running worker: one consumer per queue (persist; notifications when enabled). */
export interface ParleyWorker {
  readonly persist: PersistWorker;
  /** Notifications for offline users; undefined when disabled (no `NOTIFY_WEBHOOK_URL`). */
  readonly notifications: Notifications | undefined;
  /**
   * Stops taking jobs, lets the active batches finish and be written, then resolves. The connections
   * in {@link WorkerDeps} stay open: their owner closes them.
   */
  close(): Promise<void>;
}

/** Starts consuming every queue the worker drains. */
export function createWorker({ queueRedis, redis, models, config, log, notificationSender, metrics: given }: WorkerDeps): ParleyWorker {
  const metrics = given ?? new WorkerMetrics(new Registry(), log);
  const notifications = startNotifications({ queueRedis, redis, models, config, log, sender: notificationSender, metrics });
  const persist = createPersistWorker({
    connection: queueRedis,
    prefix: config.QUEUE_PREFIX,
    store: new MessageStore({ models, log }),
    state: new StateStore(models),
    emitter: createEmitter(redis, log),
    log,
    batchSize: config.PERSIST_BATCH_SIZE,
    batchWaitMs: config.PERSIST_BATCH_WAIT_MS,
    maxConcurrentWrites: config.PERSIST_MAX_CONCURRENT_WRITES,
    onStored: notifications?.onStored,
    metrics,
  });

  // The worker consumes the persist queue with a Worker only; its job counts come from a Queue opened
  // on the first scrape.
  let persistQueue: PersistQueue | undefined;
  metrics.countJobsOf(QUEUE_NAMES.persist, {
    getJobCounts: (...states) => {
      if (!persistQueue) {
        persistQueue = createPersistQueue(redis, config.QUEUE_PREFIX);
        persistQueue.on("error", (err) => log.error({ err }, "persist queue (job counts) error"));
      }
      return persistQueue.getJobCounts(...states);
    },
  });
  if (notifications) metrics.countJobsOf(QUEUE_NAMES.notifications, notifications.queue);

  return {
    persist,
    notifications,
    async close() {
      metrics.stopCountingJobs();
      await persist.close();
      // After the persist worker: its last batches may still hand notifications over.
      await notifications?.close();
      await persistQueue?.close();
    },
  };
}
