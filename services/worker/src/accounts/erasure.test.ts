/**
 * The erasure of a deleted account's messages on a real redis-server and FerretDB: the eraser alone
 * (batches, idempotence, the accounts it refuses), then the `erase-messages` jobs through the worker
 * (retried until the account is deleted, run again later, invalid data failing for good).
 */
import type { Job } from "bullmq";
import mongoose, { Types, type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { conversationRoom } from "@parley/shared/events";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { MessageChanges, type MessageChange } from "@parley/shared/messages/message-changes";
import { MessageReader } from "@parley/shared/messages/message-reader";
import { createModels, messageToDoc, type Models } from "@parley/shared/models";
import { createAccountQueue, createPersistQueue, enqueueErasure, messageJobId, type AccountQueue, type PersistQueue } from "@parley/shared/queues";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";
import type { Message } from "@parley/protocol";

import { testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { collect, eventually } from "../../../../test/helpers/events.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { fakeMessage, seedUser } from "../../../../test/helpers/seed.js";
import { startSocketProbe, type SocketProbe } from "../../../../test/helpers/socket-probe.js";
import { createWorker, type ParleyWorker } from "../app.js";
import { AccountNotDeletedError, MessageEraser, UnknownAccountError, type EraseProgress } from "./message-eraser.js";

const redisServer = useRedisServer("worker-erasure");
const log = pino({ level: "silent" });
const prefix = `e${uniqueSuffix()}`;
const keys = redisKeys(prefix);
let connection: Connection;
let models: Models;
let redis: RedisClient;
let queue: PersistQueue;
let changes: MessageChanges;
const published: MessageChange[] = [];

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl("worker-erasure"), { bufferCommands: false });
  await connection.asPromise();
  models = createModels(connection);
  await Promise.all(Object.values(models).map((model) => model.init()));
  redis = createRedis(redisServer.url, { name: "erasure-test", log });
  queue = createPersistQueue(redis, `{q${uniqueSuffix()}}`);
  const cache = new ConversationCache(redis, keys, models);
  changes = new MessageChanges({
    redis,
    keys,
    cache,
    reader: new MessageReader({ redis, keys, cache, models }),
    queue,
    log,
    publish: (change) => published.push(change),
  });
});

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await connection?.dropDatabase();
  await connection?.close();
});

const oid = () => new Types.ObjectId().toHexString();

/** A user (deleted unless said otherwise) with `count` stored messages spread over two conversations. */
async function account(count: number, { deleted = true } = {}) {
  const user = await seedUser(models, "gone");
  if (deleted) await models.User.updateOne({ _id: user.id }, { $set: { deletedAt: new Date() } });
  const conversations = [oid(), oid()];
  const messages = Array.from({ length: count }, (_, i) => fakeMessage(conversations[i % 2]!, Math.floor(i / 2) + 1, { senderId: user.id }));
  await models.Message.insertMany(messages.map(messageToDoc));
  return { userId: user.id, conversations, messages };
}

/** What the worker would store for these states: the highest rev wins. */
async function store(states: readonly Message[]): Promise<void> {
  for (const state of states) await models.Message.replaceOne({ _id: state.id }, messageToDoc(state));
}

describe("MessageEraser", () => {
  it("deletes every message of the account in batches, as message:delete does, and leaves others' alone", async () => {
    const { userId, conversations, messages } = await account(7);
    const others = [fakeMessage(conversations[0]!, 100), fakeMessage(conversations[1]!, 100)];
    const before = fakeMessage(conversations[0]!, 101, { senderId: userId, content: "", deletedAt: new Date().toISOString(), rev: 1 });
    await models.Message.insertMany([...others, before].map(messageToDoc));
    published.length = 0;
    const batches: EraseProgress[] = [];

    const done = await new MessageEraser({ models, changes, log, batchSize: 3 }).erase(userId, (p) => void batches.push(p));
    expect(done).toEqual({ batches: 3, seen: 7, erased: 7 });
    expect(batches).toEqual([
      { batches: 1, seen: 3, erased: 3 },
      { batches: 2, seen: 6, erased: 6 },
      { batches: 3, seen: 7, erased: 7 },
    ]);
    expect(published.map((c) => c.type)).toEqual(Array(7).fill("deleted"));
    expect(published.map((c) => c.message.id).sort()).toEqual(messages.map((m) => m.id).sort());
    for (const message of messages) {
      const state = JSON.parse((await redis.hget(keys.conversationOverlay(message.conversationId), message.id))!) as Message;
      expect(state).toEqual({ ...message, content: "", rev: 1, deletedAt: expect.any(String) });
      expect((await queue.getJob(messageJobId(state)))?.data).toEqual(state);
    }
    for (const other of [...others, before]) expect(await redis.hget(keys.conversationOverlay(other.conversationId), other.id)).toBeNull();
  });

  it("is idempotent: run again, it announces nothing more, and once stored it finds nothing left", async () => {
    const { userId, messages } = await account(5);
    const eraser = new MessageEraser({ models, changes, log, batchSize: 2 });
    await eraser.erase(userId);
    published.length = 0;

    // Nothing stored yet (no persist worker here): the same messages, all unchanged.
    expect(await eraser.erase(userId)).toEqual({ batches: 3, seen: 5, erased: 0 });
    expect(published).toEqual([]);
    // The worker stored the deleted states, and one more message arrives late in MongoDB.
    await store(await Promise.all(messages.map(async (m) => JSON.parse((await redis.hget(keys.conversationOverlay(m.conversationId), m.id))!) as Message)));
    const late = fakeMessage(messages[0]!.conversationId, 50, { senderId: userId });
    await models.Message.insertMany([messageToDoc(late)]);
    expect(await eraser.erase(userId)).toEqual({ batches: 1, seen: 1, erased: 1 });
    expect(published.map((c) => c.message.id)).toEqual([late.id]);
    expect(await eraser.erase(userId)).toEqual({ batches: 1, seen: 1, erased: 0 });
  });

  it("erases nothing of an account that is not deleted, and refuses an unknown one", async () => {
    const { userId, messages } = await account(2, { deleted: false });
    published.length = 0;
    const eraser = new MessageEraser({ models, changes, log });
    await expect(eraser.erase(userId)).rejects.toBeInstanceOf(AccountNotDeletedError);
    await expect(eraser.erase(oid())).rejects.toBeInstanceOf(UnknownAccountError);
    expect(published).toEqual([]);
    expect(await redis.hget(keys.conversationOverlay(messages[0]!.conversationId), messages[0]!.id)).toBeNull();
  });
});

describe("erase-messages jobs", () => {
  let probe: SocketProbe;
  let worker: ParleyWorker;
  let accounts: AccountQueue;
  const queuePrefix = `{w${uniqueSuffix()}}`;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    probe = await startSocketProbe(redisServer.url);
    const queueRedis = createRedis(redisServer.url, { name: "erasure-worker-queue", log, blocking: true });
    const workerRedis = createRedis(redisServer.url, { name: "erasure-worker", log });
    worker = createWorker({
      queueRedis,
      redis: workerRedis,
      models,
      config: { QUEUE_PREFIX: queuePrefix, REDIS_PREFIX: prefix, PERSIST_BATCH_SIZE: 50, PERSIST_BATCH_WAIT_MS: 5, PERSIST_MAX_CONCURRENT_WRITES: 2 },
      log,
    });
    accounts = createAccountQueue(redis, queuePrefix);
    cleanups.push(
      () => Promise.allSettled([queueRedis.quit(), workerRedis.quit()]),
      () => worker.close(),
      () => accounts.close(),
      () => probe.close(),
    );
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  afterEach(() => {
    published.length = 0;
  });

  /** The next `event` of the accounts worker about job `jobId`. */
  function nextJobEvent(event: "failed" | "completed", jobId: string, timeoutMs = 10_000): Promise<{ job: Job; err?: Error }> {
    const emitter = worker.accounts as unknown as NodeJS.EventEmitter;
    return new Promise((resolve, reject) => {
      const listener = (job: Job | undefined, second: unknown) => {
        if (job?.id !== jobId) return;
        clearTimeout(timer);
        emitter.off(event, listener);
        resolve({ job, ...(event === "failed" ? { err: second as Error } : {}) });
      };
      const timer = setTimeout(() => {
        emitter.off(event, listener);
        reject(new Error(`no '${event}' for job ${jobId} within ${timeoutMs} ms`));
      }, timeoutMs);
      emitter.on(event, listener);
    });
  }

  const storedDeleted = (ids: readonly string[]) => models.Message.countDocuments({ _id: { $in: [...ids] }, deletedAt: { $exists: true }, content: "" });

  it("waits (retried) for the account to be deleted, erases and stores, then runs again and catches late messages", async () => {
    const { userId, conversations, messages } = await account(4, { deleted: false });
    const announced = collect<{ id: string }>(await probe.join(conversations.map(conversationRoom)), "message:deleted");
    const failed = nextJobEvent("failed", `erase-${userId}`);
    const completed = nextJobEvent("completed", `erase-${userId}`);
    await enqueueErasure(accounts, userId, 4_000);

    // Queued just before the account's tombstone: the first attempt fails and is retried.
    const { job, err } = await failed;
    expect(err).toBeInstanceOf(AccountNotDeletedError);
    expect(job.attemptsMade).toBe(1);
    await models.User.updateOne({ _id: userId }, { $set: { deletedAt: new Date() } });
    expect((await completed).job.progress).toEqual({ batches: 1, seen: 4, erased: 4 });
    // A message that was still in the persist queue during the first run reaches MongoDB.
    const late = fakeMessage(conversations[0]!, 20, { senderId: userId });
    await models.Message.insertMany([messageToDoc(late)]);
    expect(await accounts.getJobState(`erase-${userId}-again`)).toBe("delayed");

    await eventually(() => announced.length === 4, 10_000, "message:deleted to the rooms");
    expect(announced.map((d) => d.id).sort()).toEqual(messages.map((m) => m.id).sort());
    await eventually(async () => (await storedDeleted(messages.map((m) => m.id))) === 4, 10_000, "stored as deleted");

    // The re-run erases it.
    const again = await nextJobEvent("completed", `erase-${userId}-again`);
    expect(again.job.progress).toEqual({ batches: 1, seen: 1, erased: 1 });
    await eventually(async () => (await storedDeleted([late.id])) === 1, 10_000, "late message stored as deleted");
    expect(announced.map((d) => d.id)).toContain(late.id);
  });

  it("fails a job with invalid data, or for an account that does not exist, for good", async () => {
    const unknown = oid();
    const invalid = nextJobEvent("failed", "erase-invalid");
    const missing = nextJobEvent("failed", `erase-${unknown}`);
    await accounts.add("erase-messages", { userId: "nope" }, { jobId: "erase-invalid" });
    await enqueueErasure(accounts, unknown, 60_000);
    expect((await invalid).err?.message).toMatch(/invalid erase-messages job data: userId/);
    expect((await missing).err?.name).toBe("UnrecoverableError");
    expect(await accounts.getJobState("erase-invalid")).toBe("failed");
    expect(await accounts.getJobState(`erase-${unknown}`)).toBe("failed");
  });
});
