/**
 * Decides who gets a notification: after a batch of new messages is stored, every member of each
 * message's conversation except its sender who has no live socket on any gateway gets one job on the
 * `notifications` queue, with jobId `n-<message id>-<user id>`, so one message notifies one user once.
 */
import { Types } from "mongoose";

import type { Logger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";
import { offlineUsers } from "@parley/shared/presence";
import type { NotificationQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";
import { pipelinePerNode } from "@parley/shared/redis-slots";
import type { Message } from "@parley/protocol";

/** Job id of the notification of `message` to `userId`. */
export function notificationJobId(messageId: string, userId: string): string {
  return `n-${messageId}-${userId}`;
}

/** Most jobs per `addBulk` round trip. */
const BULK_SIZE = 1000;
/** Attempts at enqueueing one batch's notifications before giving up on them (logged). */
const ENQUEUE_ATTEMPTS = 3;

/** What a {@link NotificationProducer} needs. */
export interface NotificationProducerDeps {
  /** Commands: member cache and presence reads. */
  redis: RedisClient;
  keys: RedisKeys;
  /** Conversation documents, for members not in the Redis cache. */
  models: Pick<Models, "Conversation">;
  queue: NotificationQueue;
  log: Logger;
}

/**
 * Enqueues notifications for stored messages. {@link onStored} is the persist worker's post-write hook:
 * it returns at once and works in the background, so notifications never slow down or fail
 * persistence; {@link close} waits for that work.
 *
 * A recipient is offline if their connections hash is empty when the batch has been stored (a few tens
 * of milliseconds after the send): someone who disconnects right after receiving the message live may
 * still be notified, and someone who connects meanwhile gets it through `sync` instead.
 */
export class NotificationProducer {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: NotificationProducerDeps) {}

  /** The post-write hook: notifies for the new messages (those without `rev`) of a stored batch. */
  readonly onStored = (messages: readonly Message[]): void => {
    const fresh = messages.filter((m) => !m.rev);
    if (fresh.length === 0) return;
    const work = this.enqueueWithRetries(fresh).finally(() => this.pending.delete(work));
    this.pending.add(work);
  };

  /** Resolves once every batch handed to {@link onStored} so far is enqueued (or given up). */
  async close(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Enqueues the notifications of `messages` (all treated as new) and resolves with the jobs added.
   * Idempotent per (message, user) while the job exists.
   */
  async enqueue(messages: readonly Message[]): Promise<number> {
    const members = await this.membersOf([...new Set(messages.map((m) => m.conversationId))]);
    const recipients = new Map<Message, string[]>();
    for (const message of messages) {
      recipients.set(message, (members.get(message.conversationId) ?? []).filter((id) => id !== message.senderId));
    }
    const everyone = [...new Set([...recipients.values()].flat())];
    if (everyone.length === 0) return 0;
    const offline = new Set(await offlineUsers(this.deps.redis, this.deps.keys, everyone));
    const jobs = [...recipients].flatMap(([message, users]) =>
      users
        .filter((userId) => offline.has(userId))
        .map((userId) => ({ name: "message" as const, data: { userId, message }, opts: { jobId: notificationJobId(message.id, userId) } })),
    );
    for (let i = 0; i < jobs.length; i += BULK_SIZE) await this.deps.queue.addBulk(jobs.slice(i, i + BULK_SIZE));
    return jobs.length;
  }

  private async enqueueWithRetries(messages: readonly Message[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const added = await this.enqueue(messages);
        if (added > 0) this.deps.log.debug({ messages: messages.length, notifications: added }, "notifications enqueued");
        return;
      } catch (err) {
        if (attempt >= ENQUEUE_ATTEMPTS) {
          this.deps.log.error(
            { err, messageIds: messages.slice(0, 20).map((m) => m.id), messages: messages.length },
            "notifications of stored messages could not be enqueued; they are not sent",
          );
          return;
        }
        this.deps.log.warn({ err, attempt }, "enqueueing notifications failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, 250 * 4 ** (attempt - 1)));
      }
    }
  }

  /**
   * Members of each conversation: from the gateways' Redis member cache when it holds the
   * conversation (its version key exists), otherwise from MongoDB (read only: the cache is left to
   * the gateways and the API, which own it).
   */
  private async membersOf(conversationIds: readonly string[]): Promise<Map<string, string[]>> {
    const { redis, keys, models } = this.deps;
    // One pipeline per Redis Cluster node: the conversations of a batch are spread over every slot.
    const replies = await pipelinePerNode(
      redis,
      conversationIds,
      (id) => keys.conversationMembers(id),
      (pipeline, id) => pipeline.exists(keys.conversationMembersVersion(id)).smembers(keys.conversationMembers(id)),
    );
    const members = new Map<string, string[]>();
    const uncached: string[] = [];
    conversationIds.forEach((id, i) => {
      const [[versionErr, cached] = [], [membersErr, ids] = []] = replies[i]!;
      if (versionErr) throw versionErr;
      if (membersErr) throw membersErr;
      if (cached === 1 && Array.isArray(ids)) members.set(id, ids.map(String));
      else uncached.push(id);
    });
    if (uncached.length > 0) {
      const docs = await models.Conversation.find(
        { _id: { $in: uncached.map((id) => new Types.ObjectId(id)) } },
        { members: 1 },
      ).lean();
      for (const doc of docs) members.set(doc._id.toHexString(), doc.members.map((m) => m.toHexString()));
    }
    return members;
  }
}
