/**
 * The consumer of the `notifications` queue: validates each job and hands it to the sender. Transient
 * failures are retried by BullMQ with {@link notificationBackoff}; a delivery the receiver refused for
 * good, or a job that can never be valid, fails at once.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { z } from "zod";

import type { Logger } from "@parley/shared/logger";
import { QUEUE_NAMES, type NotificationJobName, type NotificationJobs } from "@parley/shared/queues";
import { Message, ObjectIdString } from "@parley/protocol";

import { isFinalFailure, lockOptions, parseJobData, type JobLocks } from "../jobs.js";
import type { WorkerMetrics } from "../metrics.js";

import { PermanentDeliveryError, RetryLaterError, type NotificationSender } from "./notification-sender.js";

/** A job of the notifications queue. */
export type NotificationJob = Job<NotificationJobs[NotificationJobName], void, NotificationJobName>;

/** The BullMQ worker of the notifications queue. */
export type NotifyWorker = Worker<NotificationJobs[NotificationJobName], void, NotificationJobName>;

/** The data of a `message` notification job, as read by the worker. */
const MessageNotificationJobData = z.object({ userId: ObjectIdString, message: Message });

/** What the notification consumer needs. */
export interface NotifyWorkerDeps {
  /** Redis connection for BullMQ (`maxRetriesPerRequest: null`); left open on close. */
  connection: ConnectionOptions;
  /** BullMQ key prefix, the producers' `QUEUE_PREFIX`. */
  prefix: string;
  sender: NotificationSender;
  /** Notifications delivered at once. */
  concurrency: number;
  /** @default DEFAULT_JOB_LOCKS */
  locks?: JobLocks | undefined;
  log: Logger;
  /** Deliveries by outcome, retries and final failures. */
  metrics: WorkerMetrics;
}

/** Longest wait between two attempts of a notification. */
export const MAX_NOTIFICATION_BACKOFF_MS = 15 * 60_000;

/**
 * The delay before attempt `attemptsMade + 1`: ×4 from 250 ms (250 ms, 1 s, 4 s, 16 s, 64 s, 256 s),
 * then every 15 minutes, or longer if the receiver asked for it (`Retry-After`, up to 5 minutes). With
 * NOTIFICATION_JOB_OPTIONS' 12 attempts, a notification is retried for about 80 minutes: quick retries
 * for a blip, then patience for a receiver that is down.
 */
export function notificationBackoff(attemptsMade: number, err?: Error): number {
  const exponential = Math.min(250 * 4 ** Math.max(0, attemptsMade - 1), MAX_NOTIFICATION_BACKOFF_MS);
  return Math.max(exponential, err instanceof RetryLaterError ? err.retryAfterMs : 0);
}

/** Starts consuming the notifications queue. */
export function createNotifyWorker({ connection, prefix, sender, concurrency, log, metrics, locks }: NotifyWorkerDeps): NotifyWorker {
  const worker: NotifyWorker = new Worker<NotificationJobs[NotificationJobName], void, NotificationJobName>(
    QUEUE_NAMES.notifications,
    async (job) => {
      if (job.name !== "message") throw new UnrecoverableError(`unknown job name '${job.name}'`);
      const { userId, message } = parseJobData(MessageNotificationJobData, job, "notification");
      try {
        await sender.send({ type: "message", userId, message }, { deliveryId: job.id ?? "", attempt: job.attemptsMade + 1 });
      } catch (err) {
        if (err instanceof PermanentDeliveryError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    {
      connection,
      prefix,
      concurrency,
      ...lockOptions(locks),
      // NOTIFICATION_JOB_OPTIONS use `backoff: { type: "custom" }`, which resolves to this strategy.
      settings: { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => notificationBackoff(attemptsMade, err) },
    },
  );
  worker.on("error", (err) => log.error({ err }, "notification worker error"));
  worker.on("completed", (job) => {
    metrics.notification("delivered");
    log.debug({ jobId: job.id, attempts: job.attemptsMade + 1 }, "notification delivered");
  });
  worker.on("failed", (job, err) => {
    const attempts = job?.opts.attempts ?? 1;
    const final = isFinalFailure(job, err);
    metrics.notification(final ? "failed" : "retried");
    metrics.jobFailed(QUEUE_NAMES.notifications, final);
    // Name, message and cause code only: nothing of the request (URL, headers) goes to the logs.
    const cause = (err.cause as { code?: unknown } | undefined)?.code;
    const fields = { err: { name: err.name, message: err.message, cause }, jobId: job?.id, sender: sender.name, attemptsMade: job?.attemptsMade, attempts };
    if (final) log.error(fields, "notification failed for good; it stays in the failed set for a while");
    else log.warn(fields, "notification not delivered; it will be retried");
  });
  return worker;
}
