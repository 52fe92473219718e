/**
 * The worker, wired from the dependencies it is given. `index.ts` passes real connections; tests pass
 * their own Redis and database.
 */
import type { ConnectionOptions } from "bullmq";
import { z } from "zod";

import { Attachments } from "@parley/shared/attachments/attachments";
import { attachmentConfigShape, type AttachmentConfig } from "@parley/shared/attachments/attachment-rules";
import type { ObjectStorage } from "@parley/shared/attachments/storage";
import { loadConfig } from "@parley/shared/config";
import { createEmitter, createRetryingEmitter } from "@parley/shared/emitter";
import { conversationRoom } from "@parley/shared/events";
import type { Logger } from "@parley/shared/logger";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { MessageChanges, emitChange } from "@parley/shared/messages/message-changes";
import { MessageReader } from "@parley/shared/messages/message-reader";
import { StoredMarks } from "@parley/shared/messages/stored-marks";
import { Registry } from "@parley/shared/metrics";
import type { Models } from "@parley/shared/models";
import { QUEUE_NAMES, createAccountQueue, createAttachmentQueue, createPersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";

import { createAccountsWorker, type AccountsWorker } from "./accounts/accounts-worker.js";
import { createAttachmentsWorker, type AttachmentsWorker } from "./attachments/attachments-worker.js";
import { MessageEraser } from "./accounts/message-eraser.js";
import type { WorkerConfig } from "./config.js";
import { DEFAULT_JOB_LOCKS, type JobLocks } from "./jobs.js";
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
  /**
   * Redis connection for commands: the emitter publishes on it, erasures change messages through it,
   * the queues the worker adds to use it. Left open by {@link ParleyWorker.close}.
   */
  redis: RedisClient;
  /** Models bound to an open connection, indexes built. */
  models: Pick<Models, "Message" | "Conversation" | "Receipt" | "User" | "Attachment">;
  config: Pick<WorkerConfig, "QUEUE_PREFIX" | "PERSIST_BATCH_SIZE" | "PERSIST_BATCH_WAIT_MS" | "PERSIST_MAX_CONCURRENT_WRITES"> &
    Partial<Pick<WorkerConfig, "REDIS_PREFIX" | "STREAM_TTL_SECONDS" | "ATTACHMENT_SWEEP_INTERVAL_SECONDS" | "JOB_LOCK_MS" | "JOB_STALLED_CHECK_MS"> & NotifyConfig & AttachmentConfig>;
  /** The object store of attachments; undefined when they are off (no `S3_BUCKET`): no attachment consumer then. */
  storage?: ObjectStorage | undefined;
  log: Logger;
  /** Delivers notifications instead of the webhook sender of `NOTIFY_WEBHOOK_URL` (which may then be unset). */
  notificationSender?: NotificationSender;
  /**
   * Where the worker records its metrics; `index.ts` passes them on the registry it serves.
   * @default metrics on a registry of their own, which nothing serves
   */
  metrics?: WorkerMetrics;
}

/** A running worker: one consumer per queue (persist, accounts; notifications when enabled). */
export interface ParleyWorker {
  readonly persist: PersistWorker;
  /** Erasures of deleted accounts' messages. */
  readonly accounts: AccountsWorker;
  /** Notifications for offline users; undefined when disabled (no `NOTIFY_WEBHOOK_URL`). */
  readonly notifications: Notifications | undefined;
  /** Thumbnails, durations and deletions of attachments; undefined when attachments are off. */
  readonly attachments: AttachmentsWorker | undefined;
  /**
   * Stops taking jobs, lets the active batches finish and be written, then resolves. The connections
   * in {@link WorkerDeps} stay open: their owner closes them.
   */
  close(): Promise<void>;
}

/** Starts consuming every queue the worker drains. */
export function createWorker({ queueRedis, redis, models, config, log, notificationSender, metrics: given, storage }: WorkerDeps): ParleyWorker {
  const metrics = given ?? new WorkerMetrics(new Registry(), log);
  const locks: JobLocks = {
    lockMs: config.JOB_LOCK_MS ?? DEFAULT_JOB_LOCKS.lockMs,
    stalledCheckMs: config.JOB_STALLED_CHECK_MS ?? DEFAULT_JOB_LOCKS.stalledCheckMs,
  };
  const notifications = startNotifications({ queueRedis, redis, models, config, log, sender: notificationSender, metrics, locks });
  const emitter = createEmitter(redis, log);
  // `message:persisted` is published again while Redis refuses it: a client whose socket stays up has
  // no other way to hear it (one that reconnects reads it in its sync, from the stored marks).
  const confirmations = createRetryingEmitter(redis, log);
  const keys = redisKeys(config.REDIS_PREFIX ?? "parley");
  const persist = createPersistWorker({
    connection: queueRedis,
    prefix: config.QUEUE_PREFIX,
    store: new MessageStore({ models, log }),
    state: new StateStore(models),
    marks: new StoredMarks(redis, keys, config.STREAM_TTL_SECONDS ?? 604_800),
    emitter: confirmations.emitter,
    log,
    batchSize: config.PERSIST_BATCH_SIZE,
    batchWaitMs: config.PERSIST_BATCH_WAIT_MS,
    maxConcurrentWrites: config.PERSIST_MAX_CONCURRENT_WRITES,
    onStored: notifications?.onStored,
    metrics,
    locks,
  });

  // The worker adds deleted messages' states to the persist queue (erasures), and reads every queue's
  // job counts for the metrics.
  const persistQueue = createPersistQueue(redis, config.QUEUE_PREFIX);
  persistQueue.on("error", (err) => log.error({ err }, "persist queue (producer) error"));
  const accountQueue = createAccountQueue(redis, config.QUEUE_PREFIX);
  accountQueue.on("error", (err) => log.error({ err }, "accounts queue (job counts) error"));
  const attachmentQueue = createAttachmentQueue(redis, config.QUEUE_PREFIX);
  attachmentQueue.on("error", (err) => log.error({ err }, "attachments queue (producer) error"));
  metrics.countJobsOf(QUEUE_NAMES.persist, persistQueue);
  metrics.countJobsOf(QUEUE_NAMES.attachments, attachmentQueue);
  metrics.countJobsOf(QUEUE_NAMES.accounts, accountQueue);
  if (notifications) metrics.countJobsOf(QUEUE_NAMES.notifications, notifications.queue);

  const cache = new ConversationCache(redis, keys, models);
  const changes = new MessageChanges({
    redis,
    keys,
    cache,
    reader: new MessageReader({ redis, keys, cache, models }),
    queue: persistQueue,
    attachmentQueue,
    log,
    publish: (change) => emitChange(emitter.to(conversationRoom(change.message.conversationId)), change),
    ...(config.STREAM_TTL_SECONDS === undefined ? {} : { overlayTtlSeconds: config.STREAM_TTL_SECONDS }),
  });
  const accounts = createAccountsWorker({
    connection: queueRedis,
    prefix: config.QUEUE_PREFIX,
    eraser: new MessageEraser({ models, changes, log }),
    log,
    metrics,
    locks,
  });
  const attachments =
    storage &&
    createAttachmentsWorker({
      connection: queueRedis,
      prefix: config.QUEUE_PREFIX,
      queue: attachmentQueue,
      models,
      storage,
      attachments: new Attachments({ models, storage, config: attachmentConfig(config), log }),
      changes,
      log,
      metrics,
      sweepEveryMs: (config.ATTACHMENT_SWEEP_INTERVAL_SECONDS ?? 3600) * 1000,
      locks,
    });

  return {
    persist,
    accounts,
    notifications,
    attachments,
    async close() {
      metrics.stopCountingJobs();
      // First, since erasures and descriptions add to the persist queue.
      await Promise.all([accounts.close(), attachments?.close()]);
      await persist.close();
      confirmations.stop();
      // After the persist worker: its last batches may still hand notifications over.
      await notifications?.close();
      await Promise.all([persistQueue.close(), accountQueue.close(), attachmentQueue.close()]);
    },
  };
}

/** The attachment settings, defaults filled in for the ones a caller left out. */
function attachmentConfig(config: Partial<AttachmentConfig>): AttachmentConfig {
  return { ...loadConfig(z.object(attachmentConfigShape), {}), ...config };
}
