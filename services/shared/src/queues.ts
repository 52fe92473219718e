/**
 * Queue names, job types and the options every producer uses, so that producers (gateway, API) and
 * the consumer (worker) cannot disagree.
 */
import { Queue, type ConnectionOptions, type DefaultJobOptions } from "bullmq";

import type { z } from "zod";

import type { Message } from "@parley/protocol";
import type {
  EraseMessagesJobData,
  LastSeenJobData,
  PointerJobData,
  ProcessAttachmentsJobData,
  PurgeAttachmentsJobData,
  PurgeUserAttachmentsJobData,
} from "./schemas.js";

/** Queue names. BullMQ forbids ':' in them. */
export const QUEUE_NAMES = {
  /** State to store in MongoDB (messages, pointers, last-seen times); drained by the worker in batches. */
  persist: "persist",
  /** Notifications for users with no live socket; drained by the worker's senders. */
  notifications: "notifications",
  /** Work on a whole account (the erasure of a deleted account's messages); drained by the worker. */
  accounts: "accounts",
  /** Attachments to describe (thumbnails, dimensions, durations) and to delete; drained by the worker. */
  attachments: "attachments",
} as const;

/** A delivery or read pointer that moved forward (`at`: ISO time of the move). */
export type PointerJob = z.infer<typeof PointerJobData>;

/** A user's last socket disconnected at `lastSeen` (ISO). */
export type LastSeenJob = z.infer<typeof LastSeenJobData>;

/** Jobs of the persist queue, by job name. */
export interface PersistJobs {
  /**
   * Store a message in the state it has at revision `rev` (absent: as sent). jobId = {@link messageJobId}.
   * The stored state is the one with the highest rev, whatever order the jobs run in.
   */
  message: Message;
  /** Move a pointer forward in MongoDB (never backwards). jobId = {@link pointerJobId}. */
  pointer: PointerJob;
  /** Record when a user was last seen. */
  "last-seen": LastSeenJob;
}

/** Job id of a message state: one job per (message, revision). */
export function messageJobId(message: Pick<Message, "id" | "rev">): string {
  return message.rev ? `${message.id}-r${message.rev}` : message.id;
}

/** Job id of a pointer move: one job per (conversation, user, kind, seq). */
export function pointerJobId(job: PointerJob): string {
  return `p-${job.conversationId}-${job.userId}-${job.kind}-${job.seq}`;
}

/** A notification for a user who had no live socket when a message arrived. */
export interface NotificationJobs {
  /** jobId = `n-<message id>-<user id>`, so one message notifies one user once. */
  message: { userId: string; message: Message };
}
export type NotificationJobName = keyof NotificationJobs;
export type NotificationQueue = Queue<NotificationJobs[NotificationJobName], void, NotificationJobName>;
export type PersistJobName = keyof PersistJobs;
export type PersistQueue = Queue<PersistJobs[PersistJobName], void, PersistJobName>;

/** Longest wait between two attempts of a failing job. */
export const MAX_BACKOFF_MS = 30_000;

/**
 * Retry delay of attempt `attemptsMade`: exponential from 250 ms, capped at {@link MAX_BACKOFF_MS}.
 * The worker registers it as BullMQ's custom backoff strategy.
 */
export function backoffDelay(attemptsMade: number): number {
  return Math.min(250 * 2 ** Math.max(0, attemptsMade - 1), MAX_BACKOFF_MS);
}

/**
 * Persistence jobs retry for about four hours of MongoDB outage (500 attempts, at most 30 s apart), then
 * stay in the failed set for an operator to inspect and retry: a message is never dropped silently.
 */
export const PERSIST_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 500,
  backoff: { type: "custom" },
  removeOnComplete: true,
  removeOnFail: false,
};

/** A producer of queue `name`, whose jobs are `Jobs` by name. */
function createQueue<Jobs extends object>(
  name: (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES],
  connection: ConnectionOptions,
  prefix: string,
  defaultJobOptions: DefaultJobOptions,
): Queue<Jobs[keyof Jobs], void, Extract<keyof Jobs, string>> {
  return new Queue<Jobs[keyof Jobs], void, Extract<keyof Jobs, string>>(name, {
    connection,
    prefix,
    defaultJobOptions,
    // The events stream is only read by QueueEvents listeners, which parley does not use at this rate.
    streams: { events: { maxLen: 1000 } },
  });
}

export function createPersistQueue(connection: ConnectionOptions, prefix: string): PersistQueue {
  return createQueue<PersistJobs>(QUEUE_NAMES.persist, connection, prefix, PERSIST_JOB_OPTIONS);
}

/** Queues a message (in its current state) for persistence. Idempotent per (message, rev). */
export async function enqueueMessage(queue: PersistQueue, message: Message): Promise<void> {
  await queue.add("message", message, { jobId: messageJobId(message) });
}

/** Queues a pointer move for persistence. Idempotent per (conversation, user, kind, seq). */
export async function enqueuePointer(queue: PersistQueue, job: PointerJob): Promise<void> {
  await queue.add("pointer", job, { jobId: pointerJobId(job) });
}

/**
 * Notification jobs retry for about 80 minutes (the worker's notification backoff: ×4 from 250 ms, then
 * every 15 minutes), then stay in the failed set for a week. A notification older than that is rarely
 * still useful.
 */
export const NOTIFICATION_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 12,
  backoff: { type: "custom" },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

export function createNotificationQueue(connection: ConnectionOptions, prefix: string): NotificationQueue {
  return createQueue<NotificationJobs>(QUEUE_NAMES.notifications, connection, prefix, NOTIFICATION_JOB_OPTIONS);
}

/** The erasure of a deleted account's messages. */
export type EraseMessagesJob = z.infer<typeof EraseMessagesJobData>;

/** Jobs of the accounts queue, by job name. */
export interface AccountJobs {
  /**
   * Delete the content of every message `userId` sent, as `message:delete` does. Idempotent: a message
   * already deleted is left as it is. jobIds: see {@link enqueueErasure}.
   */
  "erase-messages": EraseMessagesJob;
}
export type AccountJobName = keyof AccountJobs;
export type AccountQueue = Queue<AccountJobs[AccountJobName], void, AccountJobName>;

/**
 * How long after an account's deletion its erasure runs a second time: it catches the messages that
 * were still on their way to MongoDB (in the persist queue) during the first run, which reads
 * MongoDB. The persist queue is drained within milliseconds normally, within seconds after a worker
 * restart.
 */
export const ERASE_RERUN_DELAY_MS = 60_000;

/** Account jobs retry like persistence jobs (about four hours, then the failed set): nothing is dropped silently. */
export const ACCOUNT_JOB_OPTIONS: DefaultJobOptions = { ...PERSIST_JOB_OPTIONS };

export function createAccountQueue(connection: ConnectionOptions, prefix: string): AccountQueue {
  return createQueue<AccountJobs>(QUEUE_NAMES.accounts, connection, prefix, ACCOUNT_JOB_OPTIONS);
}

/**
 * Queues the erasure of `userId`'s messages twice: at once (jobId `erase-<userId>`), and again
 * `rerunDelayMs` later (`erase-<userId>-again`), see {@link ERASE_RERUN_DELAY_MS}. Adding it again
 * while those jobs are queued adds nothing.
 */
export async function enqueueErasure(queue: AccountQueue, userId: string, rerunDelayMs = ERASE_RERUN_DELAY_MS): Promise<void> {
  await queue.addBulk([
    { name: "erase-messages", data: { userId }, opts: { jobId: `erase-${userId}` } },
    { name: "erase-messages", data: { userId }, opts: { jobId: `erase-${userId}-again`, delay: rerunDelayMs } },
  ]);
}

/** Jobs of the attachments queue, by job name. */
export interface AttachmentJobs {
  /** Describe a new message's attachments, then update the message. jobId = `process-<message id>`. */
  process: z.infer<typeof ProcessAttachmentsJobData>;
  /** Delete the attachments of a deleted message. jobId = `purge-<message id>-r<rev>`. */
  purge: z.infer<typeof PurgeAttachmentsJobData>;
  /** Delete every attachment of a deleted account. jobId = `purge-user-<user id>`. */
  "purge-user": z.infer<typeof PurgeUserAttachmentsJobData>;
  /** Delete the attachments no message claimed in time: the worker's repeated job. */
  sweep: Record<string, never>;
}
export type AttachmentJobName = keyof AttachmentJobs;
export type AttachmentQueue = Queue<AttachmentJobs[AttachmentJobName], void, AttachmentJobName>;

/** Attachment jobs retry like persistence jobs: a store or database outage delays them, never drops them. */
export const ATTACHMENT_JOB_OPTIONS: DefaultJobOptions = { ...PERSIST_JOB_OPTIONS };

export function createAttachmentQueue(connection: ConnectionOptions, prefix: string): AttachmentQueue {
  return createQueue<AttachmentJobs>(QUEUE_NAMES.attachments, connection, prefix, ATTACHMENT_JOB_OPTIONS);
}

/** Queues the description of `message`'s attachments (idempotent: one job per message). */
export async function enqueueAttachmentProcessing(queue: AttachmentQueue, message: Message): Promise<void> {
  const attachmentIds = (message.attachments ?? []).filter((a) => a.kind !== "file").map((a) => a.id);
  if (attachmentIds.length === 0) return;
  await queue.add(
    "process",
    { conversationId: message.conversationId, messageId: message.id, senderId: message.senderId, attachmentIds },
    { jobId: `process-${message.id}` },
  );
}

/** Queues the deletion of a deleted message's attachments (idempotent: one job per deleted state). */
export async function enqueueAttachmentPurge(queue: AttachmentQueue, message: Pick<Message, "id" | "rev">, attachmentIds: readonly string[]): Promise<void> {
  if (attachmentIds.length === 0) return;
  await queue.add("purge", { attachmentIds: [...attachmentIds] }, { jobId: `purge-${messageJobId(message)}` });
}

/** Queues the deletion of a deleted account's attachments. */
export async function enqueueUserAttachmentPurge(queue: AttachmentQueue, userId: string): Promise<void> {
  await queue.add("purge-user", { userId }, { jobId: `purge-user-${userId}` });
}
