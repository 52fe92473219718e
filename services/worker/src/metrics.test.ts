/**
 * The worker's metrics, recorded by a worker on a real redis-server and FerretDB: batch sizes, write
 * durations and persistence lag of stored batches, retries and final failures by queue, notification
 * outcomes, and job counts read at scrape time.
 */
import type { Job } from "bullmq";
import mongoose, { Types, type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { Registry } from "@parley/shared/metrics";
import { createModels, type Models } from "@parley/shared/models";
import { createPersistQueue, enqueueMessage, messageJobId, type PersistQueue } from "@parley/shared/queues";
import { createRedis } from "@parley/shared/redis";
import type { Message } from "@parley/protocol";

import { testMongoUrl, uniqueSuffix } from "../../../test/helpers/env.js";
import { eventually } from "../../../test/helpers/events.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { fakeMessage, seedGroupId } from "../../../test/helpers/seed.js";
import { sample } from "../../../test/helpers/metrics.js";
import { createWorker, type ParleyWorker } from "./app.js";
import { WorkerMetrics, type JobCountSource } from "./metrics.js";
import { PermanentDeliveryError, type Notification, type NotificationSender } from "./notify/notification-sender.js";

const redisServer = useRedisServer("worker-metrics");
const log = pino({ level: "silent" });

/** A sender that fails as scripted per user: `transient` (retried), `permanent` (failed for good), else delivers. */
class ScriptedSender implements NotificationSender {
  readonly name = "scripted";
  readonly scripts = new Map<string, ("transient" | "permanent" | "ok")[]>();

  async send(notification: Notification): Promise<void> {
    const outcome = this.scripts.get(notification.userId)?.shift() ?? "ok";
    if (outcome === "transient") throw new Error("receiver down");
    if (outcome === "permanent") throw new PermanentDeliveryError("receiver said 400");
  }
}

interface Fixture {
  worker: ParleyWorker;
  queue: PersistQueue;
  registry: Registry;
  metrics: WorkerMetrics;
  sender: ScriptedSender;
}

let connection: Connection;
let models: Models;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl("worker-metrics"), { bufferCommands: false });
  await connection.asPromise();
  models = createModels(connection);
  await Promise.all([models.Message.init(), models.Conversation.init(), models.Receipt.init()]);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await connection?.dropDatabase();
  await connection?.close();
});

/** A worker with notifications, its metrics on a registry of their own, and a producer, on a queue prefix of their own. */
function startWorker(): Fixture {
  const prefix = `{wm-${uniqueSuffix()}}`;
  const queueRedis = createRedis(redisServer.url, { name: "wm-queue", log, blocking: true });
  const redis = createRedis(redisServer.url, { name: "wm-emitter", log });
  const producerRedis = createRedis(redisServer.url, { name: "wm-producer", log });
  const queue = createPersistQueue(producerRedis, prefix);
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry, log);
  const sender = new ScriptedSender();
  const worker = createWorker({
    queueRedis,
    redis,
    models,
    config: { QUEUE_PREFIX: prefix, PERSIST_BATCH_SIZE: 50, PERSIST_BATCH_WAIT_MS: 20, PERSIST_MAX_CONCURRENT_WRITES: 2 },
    log,
    notificationSender: sender,
    metrics,
  });
  cleanups.push(
    () => Promise.allSettled([queueRedis.quit(), redis.quit(), producerRedis.quit()]),
    () => queue.close(),
    () => worker.close(),
  );
  return { worker, queue, registry, metrics, sender };
}

/** Resolves once the persist worker has emitted `event` for every job of `jobIds`. */
function settled(fixture: Fixture, event: "completed" | "failed", jobIds: readonly string[]): Promise<void> {
  const worker = fixture.worker.persist.worker as unknown as NodeJS.EventEmitter;
  const left = new Set(jobIds);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jobs not ${event}: ${[...left].join(", ")}`)), 10_000);
    const listener = (job: Job | undefined) => {
      if (job?.id) left.delete(job.id);
      if (left.size > 0) return;
      clearTimeout(timer);
      worker.off(event, listener);
      resolve();
    };
    worker.on(event, listener);
  });
}

describe("persistence", () => {
  it("records each batch's size and write duration by kind, and the lag of new messages only", async () => {
    const fixture = startWorker();
    const { metrics } = fixture;
    const conversationId = await seedGroupId(models);
    const fresh = [1, 2, 3].map((seq) => fakeMessage(conversationId, seq, { createdAt: new Date(Date.now() - 2_000).toISOString() }));
    const revision = { ...fresh[0]!, rev: 1, content: "edited", editedAt: new Date().toISOString() };
    const messages: Message[] = [...fresh, revision];

    const done = settled(fixture, "completed", [...messages.map(messageJobId), "pointer-1"]);
    for (const message of messages) await enqueueMessage(fixture.queue, message);
    await fixture.queue.add(
      "pointer",
      { conversationId, userId: new Types.ObjectId().toHexString(), kind: "read", seq: 3, at: new Date().toISOString() },
      { jobId: "pointer-1" },
    );
    await done;

    expect(await sample(metrics.batchSize, { kind: "message" }, "_sum")).toBe(4);
    expect(await sample(metrics.batchSize, { kind: "pointer" }, "_sum")).toBe(1);
    expect(await sample(metrics.batchSize, { kind: "last-seen" }, "_count")).toBe(0);
    const writes = await sample(metrics.batchSize, { kind: "message" }, "_count");
    expect(await sample(metrics.mongoWriteDuration, { kind: "message" }, "_count")).toBe(writes);
    expect(await sample(metrics.mongoWriteDuration, { kind: "pointer" }, "_count")).toBe(1);
    // Three new messages, sent 2 s before; the revision is not a persistence lag.
    expect(await sample(metrics.persistLag, {}, "_count")).toBe(3);
    const lag = await sample(metrics.persistLag, {}, "_sum");
    expect(lag).toBeGreaterThanOrEqual(6);
    expect(lag).toBeLessThan(3 * 12);
  });

  it("counts a job that can never succeed as failed for good, not as a retry", async () => {
    const fixture = startWorker();
    const failed = settled(fixture, "failed", ["bad-1"]);
    await fixture.queue.add("message", { nonsense: true } as unknown as Message, { jobId: "bad-1" });
    await failed;
    expect(await sample(fixture.metrics.jobsFailed, { queue: "persist" })).toBe(1);
    expect(await sample(fixture.metrics.jobRetries, { queue: "persist" })).toBe(0);
  });
});

describe("notifications", () => {
  it("counts deliveries, retries and final failures by outcome and by queue", async () => {
    const fixture = startWorker();
    const { metrics, sender } = fixture;
    const queue = fixture.worker.notifications!.queue;
    const conversationId = await seedGroupId(models);
    const [flaky, refusing, fine] = [1, 2, 3].map(() => new Types.ObjectId().toHexString()) as [string, string, string];
    sender.scripts.set(flaky, ["transient", "ok"]);
    sender.scripts.set(refusing, ["permanent"]);
    for (const userId of [flaky, refusing, fine]) {
      await queue.add("message", { userId, message: fakeMessage(conversationId, 1) }, { jobId: `n-${userId}` });
    }

    await eventually(async () => (await sample(metrics.notifications, { outcome: "delivered" })) === 2, 10_000, "two deliveries");
    await eventually(async () => (await sample(metrics.notifications, { outcome: "failed" })) === 1, 10_000, "one failure");
    expect(await sample(metrics.notifications, { outcome: "retried" })).toBe(1);
    expect(await sample(metrics.jobRetries, { queue: "notifications" })).toBe(1);
    expect(await sample(metrics.jobsFailed, { queue: "notifications" })).toBe(1);
    expect(await sample(metrics.jobsFailed, { queue: "persist" })).toBe(0);
  });
});

describe("queue job counts", () => {
  it("are read from Redis at each scrape, for the persist, the notifications and the accounts queues", async () => {
    const fixture = startWorker();
    const conversationId = await seedGroupId(models);
    await fixture.queue.add("message", fakeMessage(conversationId, 1), { jobId: "later-1", delay: 60_000 });
    await fixture.queue.add("message", fakeMessage(conversationId, 2), { jobId: "later-2", delay: 60_000 });

    const text = await fixture.registry.metrics();
    expect(text).toContain('parley_queue_jobs{queue="persist",state="delayed"} 2');
    for (const state of ["waiting", "active", "failed"]) expect(text).toContain(`parley_queue_jobs{queue="persist",state="${state}"} 0`);
    expect(text).toContain('parley_queue_jobs{queue="notifications",state="waiting"} 0');
    expect(text).toContain('parley_queue_jobs{queue="accounts",state="waiting"} 0');
  });

  it("leave out a queue whose counts cannot be read, and the scrape still succeeds", async () => {
    const registry = new Registry();
    const metrics = new WorkerMetrics(registry);
    const broken: JobCountSource = { getJobCounts: () => Promise.reject(new Error("redis down")) };
    const working: JobCountSource = { getJobCounts: async () => ({ waiting: 4, active: 1, delayed: 0, failed: 2 }) };
    metrics.countJobsOf("persist", broken);
    metrics.countJobsOf("notifications", working);

    const text = await registry.metrics();
    expect(text).not.toContain('queue="persist",state=');
    expect(text).toContain('parley_queue_jobs{queue="notifications",state="waiting"} 4');
    expect(text).toContain('parley_queue_jobs{queue="notifications",state="failed"} 2');

    metrics.stopCountingJobs();
    expect(await registry.metrics()).not.toContain("parley_queue_jobs{");
  });

  it("start every counter and per-kind histogram at zero, so that the first failure is an increase", async () => {
    const registry = new Registry();
    new WorkerMetrics(registry);
    const text = await registry.metrics();
    for (const queue of ["persist", "notifications", "accounts"]) {
      expect(text).toContain(`parley_worker_jobs_failed_total{queue="${queue}"} 0`);
      expect(text).toContain(`parley_worker_job_retries_total{queue="${queue}"} 0`);
    }
    for (const outcome of ["delivered", "retried", "failed"]) expect(text).toContain(`parley_worker_notifications_total{outcome="${outcome}"} 0`);
    for (const kind of ["message", "pointer", "last-seen"]) expect(text).toContain(`parley_worker_batch_size_count{kind="${kind}"} 0`);
  });
});
