/**
 * Notifications in the worker, on a real redis-server and FerretDB: persist jobs go in the way the
 * gateways enqueue them, presence is the connections hash the gateways write, and a recording sender
 * stands in for the webhook (tested against a real receiver in webhook-sender.test.ts and the cluster).
 */
import type { Job } from "bullmq";
import type { Connection } from "mongoose";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";
import {
  QUEUE_NAMES,
  createNotificationQueue,
  createPersistQueue,
  enqueueMessage,
  messageJobId,
  type PersistQueue,
} from "@parley/shared/queues";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";
import type { Message } from "@parley/protocol";

import { testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { eventually } from "../../../../test/helpers/events.js";
import { openModels } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { fakeMessage, seedConversation, seedUser, type SeededUser } from "../../../../test/helpers/seed.js";
import { createWorker, type ParleyWorker } from "../app.js";
import { PermanentDeliveryError, type DeliveryContext, type Notification, type NotificationSender } from "./notification-sender.js";
import { NotificationProducer, notificationJobId } from "./notification-producer.js";

const redisServer = useRedisServer("notify");
const REDIS_PREFIX = `n${uniqueSuffix()}`;
const keys = redisKeys(REDIS_PREFIX);
let connection: Connection;
let models: Models;
let redis: RedisClient;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("notify")));
  redis = createRedis(redisServer.url, { name: "notify-test", log: pino({ level: "silent" }) });
});
afterAll(async () => {
  await redis?.quit();
  await connection?.dropDatabase().catch(() => {});
  await connection?.close();
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Outcome = "ok" | "transient" | "permanent";

/** A sender that records every attempt and answers from a script per user (default: ok). */
class RecordingSender implements NotificationSender {
  readonly name = "recording";
  readonly attempts: { notification: Notification; context: DeliveryContext; outcome: Outcome }[] = [];
  readonly scripts = new Map<string, Outcome[]>();

  async send(notification: Notification, context: DeliveryContext): Promise<void> {
    const outcome = this.scripts.get(notification.userId)?.shift() ?? "ok";
    this.attempts.push({ notification, context, outcome });
    if (outcome === "transient") throw new Error("receiver down");
    if (outcome === "permanent") throw new PermanentDeliveryError("receiver said 400");
  }

  delivered(): { userId: string; messageId: string; deliveryId: string }[] {
    return this.attempts
      .filter((a) => a.outcome === "ok")
      .map((a) => ({ userId: a.notification.userId, messageId: a.notification.message.id, deliveryId: a.context.deliveryId }));
  }
}

function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) }), lines };
}

interface Fixture {
  worker: ParleyWorker;
  persist: PersistQueue;
  prefix: string;
  lines: Record<string, unknown>[];
}

/** A worker on a queue prefix of its own, with `sender` (or notifications disabled without one). */
function startWorker(sender?: NotificationSender): Fixture {
  const { log, lines } = captureLog();
  const prefix = `{nw-${uniqueSuffix()}}`;
  const queueRedis = createRedis(redisServer.url, { name: "notify-worker-queue", log, blocking: true });
  const workerRedis = createRedis(redisServer.url, { name: "notify-worker", log });
  const producerRedis = createRedis(redisServer.url, { name: "notify-producer", log });
  const persist = createPersistQueue(producerRedis, prefix);
  const worker = createWorker({
    queueRedis,
    redis: workerRedis,
    models,
    config: { QUEUE_PREFIX: prefix, REDIS_PREFIX, PERSIST_BATCH_SIZE: 50, PERSIST_BATCH_WAIT_MS: 10, PERSIST_MAX_CONCURRENT_WRITES: 2 },
    log,
    notificationSender: sender,
  });
  cleanups.push(
    () => Promise.allSettled([queueRedis.quit(), workerRedis.quit(), producerRedis.quit()]),
    () => persist.close(),
    () => worker.close(),
  );
  return { worker, persist, prefix, lines };
}

/** Resolves once the persist job of `message` completed: its batch is stored and the hook was called. */
function persisted(fixture: Fixture, message: Message): Promise<void> {
  const worker = fixture.worker.persist.worker as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`message ${message.id} not persisted`)), 10_000);
    const listener = (job: Job) => {
      if (job.id !== messageJobId(message)) return;
      clearTimeout(timer);
      worker.off("completed", listener);
      resolve();
    };
    worker.on("completed", listener);
  });
}

/** Persists `message` and waits until the notifications it caused are enqueued. */
async function persist(fixture: Fixture, message: Message): Promise<void> {
  const done = persisted(fixture, message);
  await enqueueMessage(fixture.persist, message);
  await done;
  await fixture.worker.notifications?.producer.close();
}

/** Waits until the notifications queue has nothing left to do (waiting, active or delayed). */
async function drained(fixture: Fixture): Promise<void> {
  const queue = fixture.worker.notifications!.queue;
  await eventually(async () => {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((n) => n === 0);
  }, 15_000, "notifications drained");
}

async function online(user: SeededUser): Promise<void> {
  await redis.hset(keys.userConnections(user.id), `node-x|sock-${uniqueSuffix()}`, Date.now());
}

async function group(size: number): Promise<{ users: SeededUser[]; conversationId: string }> {
  const users: SeededUser[] = [];
  for (let i = 0; i < size; i++) users.push(await seedUser(models, `n${i}`));
  return { users, conversationId: await seedConversation(models, users) };
}

describe("enqueueing", () => {
  it("notifies each offline member once, and neither online members nor the sender", async () => {
    const sender = new RecordingSender();
    const fixture = startWorker(sender);
    const { users, conversationId } = await group(4);
    const [author, present, away1, away2] = users as [SeededUser, SeededUser, SeededUser, SeededUser];
    await online(present);
    const message = fakeMessage(conversationId, 1, { senderId: author.id });

    await persist(fixture, message);
    await drained(fixture);

    expect(sender.delivered().sort((x, y) => x.userId.localeCompare(y.userId))).toEqual(
      [away1, away2]
        .map((u) => ({ userId: u.id, messageId: message.id, deliveryId: notificationJobId(message.id, u.id) }))
        .sort((x, y) => x.userId.localeCompare(y.userId)),
    );
    expect(sender.attempts[0]!.notification).toEqual({ type: "message", userId: expect.any(String), message });
  });

  it("reads members from the Redis member cache when it holds the conversation", async () => {
    const sender = new RecordingSender();
    const fixture = startWorker(sender);
    const { users, conversationId } = await group(2);
    const stranger = await seedUser(models, "cached-only");
    // The cache says the conversation has a third member (as it would right after an add).
    await redis.sadd(keys.conversationMembers(conversationId), ...users.map((u) => u.id), stranger.id);
    await redis.set(keys.conversationMembersVersion(conversationId), 99);
    const message = fakeMessage(conversationId, 1, { senderId: users[0]!.id });

    await persist(fixture, message);
    await drained(fixture);
    expect(sender.delivered().map((d) => d.userId).sort()).toEqual([users[1]!.id, stranger.id].sort());
  });

  it("notifies nobody for a changed message (rev), only for new ones", async () => {
    const sender = new RecordingSender();
    const fixture = startWorker(sender);
    const { users, conversationId } = await group(2);
    await persist(fixture, fakeMessage(conversationId, 1, { senderId: users[0]!.id, rev: 1, editedAt: new Date().toISOString() }));
    const counts = await fixture.worker.notifications!.queue.getJobCounts();
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    expect(sender.attempts).toEqual([]);
  });

  it("adds one job per (message, user), however often the same messages are handed over", async () => {
    const prefix = `{np-${uniqueSuffix()}}`;
    const queue = createNotificationQueue(redis, prefix);
    cleanups.push(() => queue.close());
    const producer = new NotificationProducer({ redis, keys, models, queue, log: pino({ level: "silent" }) });
    const { users, conversationId } = await group(3);
    const messages = [1, 2].map((seq) => fakeMessage(conversationId, seq, { senderId: users[0]!.id }));
    await producer.enqueue(messages);
    await producer.enqueue(messages);
    expect(await queue.getJobCountByTypes("waiting")).toBe(4);
    const job = await queue.getJob(notificationJobId(messages[0]!.id, users[2]!.id));
    expect(job?.data).toEqual({ userId: users[2]!.id, message: messages[0] });
  });
});

describe("delivery", () => {
  it("retries transient failures with backoff until delivered, once", async () => {
    const sender = new RecordingSender();
    const fixture = startWorker(sender);
    const { users, conversationId } = await group(2);
    sender.scripts.set(users[1]!.id, ["transient", "transient", "ok"]);
    const message = fakeMessage(conversationId, 1, { senderId: users[0]!.id });

    await persist(fixture, message);
    await drained(fixture);
    const attempts = sender.attempts.filter((a) => a.notification.userId === users[1]!.id);
    expect(attempts.map((a) => [a.outcome, a.context.attempt])).toEqual([
      ["transient", 1],
      ["transient", 2],
      ["ok", 3],
    ]);
    expect(new Set(attempts.map((a) => a.context.deliveryId))).toEqual(new Set([notificationJobId(message.id, users[1]!.id)]));
  });

  it("fails a refused delivery for good at the first attempt", async () => {
    const sender = new RecordingSender();
    const fixture = startWorker(sender);
    const { users, conversationId } = await group(2);
    sender.scripts.set(users[1]!.id, ["permanent"]);
    const message = fakeMessage(conversationId, 1, { senderId: users[0]!.id });

    await persist(fixture, message);
    const jobId = notificationJobId(message.id, users[1]!.id);
    const queue = fixture.worker.notifications!.queue;
    await eventually(async () => (await queue.getJobState(jobId)) === "failed", 10_000, "job failed");
    expect((await queue.getJob(jobId))?.attemptsMade).toBe(1);
    expect(sender.attempts.filter((a) => a.notification.userId === users[1]!.id)).toHaveLength(1);
    expect(fixture.lines.some((l) => l.msg === "notification failed for good; it stays in the failed set for a while")).toBe(true);
  });

  it("fails a job whose data can never be valid at once", async () => {
    const fixture = startWorker(new RecordingSender());
    const queue = fixture.worker.notifications!.queue;
    await queue.add("message", { userId: "nobody", message: {} as Message }, { jobId: "n-bad" });
    await eventually(async () => (await queue.getJobState("n-bad")) === "failed", 10_000, "job failed");
    const job = await queue.getJob("n-bad");
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/invalid notification job data/);
  });
});

describe("disabled", () => {
  it("enqueues nothing without a sender, and says so once at start", async () => {
    const fixture = startWorker();
    expect(fixture.worker.notifications).toBeUndefined();
    const { users, conversationId } = await group(3);
    await persist(fixture, fakeMessage(conversationId, 1, { senderId: users[0]!.id }));
    await persist(fixture, fakeMessage(conversationId, 2, { senderId: users[1]!.id }));

    // Not a single key of the notifications queue exists.
    expect(await redis.keys(`${fixture.prefix}:${QUEUE_NAMES.notifications}:*`)).toEqual([]);
    expect(fixture.lines.filter((l) => String(l.msg).startsWith("notifications disabled"))).toHaveLength(1);
  });
});
