/**
 * The worker end to end, on a real redis-server and FerretDB: jobs enqueued the way the gateway and the
 * API enqueue them, documents read back from the database, confirmations observed on a socket.
 */
import type { Job, Queue } from "bullmq";
import mongoose, { Types, type Connection } from "mongoose";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Message, MessagePersisted } from "@parley/protocol";
import { conversationRoom } from "@parley/shared/events";
import { createModels, type Models } from "@parley/shared/models";
import { createPersistQueue, enqueueMessage, type PersistQueue } from "@parley/shared/queues";
import { createRedis } from "@parley/shared/redis";

import { startFerretDb, withDatabase, type FerretDb } from "../../../scripts/lib/ferretdb.js";
import { freePort } from "../../../scripts/lib/ports.js";
import { fakeMessage, seedGroupId } from "../../../test/helpers/seed.js";
import { testDir, testMongoUrl, uniqueSuffix } from "../../../test/helpers/env.js";
import { collect, eventually } from "../../../test/helpers/events.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { startSocketProbe, type SocketProbe } from "../../../test/helpers/socket-probe.js";
import { createWorker, type ParleyWorker } from "./app.js";

const redisServer = useRedisServer("worker-app");

let probe: SocketProbe;
beforeAll(async () => {
  probe = await startSocketProbe(redisServer.url);
});
afterAll(async () => {
  await probe?.close();
});

/** Log lines, parsed, for asserting on what the worker reported. */
function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const LEVEL = { debug: 20, warn: 40, error: 50 } as const;

interface Fixture {
  worker: ParleyWorker;
  queue: PersistQueue;
  lines: Record<string, unknown>[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A worker and a producer on a queue prefix of their own, closed after the test. */
function startWorker(models: Models, { batchSize = 50, batchWaitMs = 20 } = {}): Fixture {
  const { log, lines } = captureLog();
  const prefix = `{w-${uniqueSuffix()}}`;
  const queueRedis = createRedis(redisServer.url, { name: "test-worker-queue", log, blocking: true });
  const redis = createRedis(redisServer.url, { name: "test-worker-emitter", log });
  const producerRedis = createRedis(redisServer.url, { name: "test-producer", log });
  const queue = createPersistQueue(producerRedis, prefix);
  queue.on("error", (err) => log.error({ err }, "test queue error"));
  const worker = createWorker({
    queueRedis,
    redis,
    models,
    config: { QUEUE_PREFIX: prefix, PERSIST_BATCH_SIZE: batchSize, PERSIST_BATCH_WAIT_MS: batchWaitMs, PERSIST_MAX_CONCURRENT_WRITES: 2 },
    log,
  });
  cleanups.push(
    () => Promise.allSettled([queueRedis.quit(), redis.quit(), producerRedis.quit()]),
    () => queue.close(),
    () => worker.close(),
  );
  return { worker, queue, lines };
}

const oid = () => new Types.ObjectId().toHexString();

/** Joins a probe socket to the conversations' rooms and collects the `message:persisted` it receives. */
async function watchPersisted(conversationIds: string[]): Promise<MessagePersisted[]> {
  const client = await probe.join(conversationIds.map(conversationRoom));
  return collect<MessagePersisted>(client, "message:persisted");
}

/** Resolves with the job and error of the next `event` of the worker about job `jobId`. */
function nextJobEvent(
  fixture: Fixture,
  event: "failed" | "completed",
  jobId: string,
  timeoutMs = 10_000,
): Promise<{ job: Job; err: Error | undefined }> {
  // Typed BullMQ listeners differ per event; both start with the job, which is all this needs.
  const worker = fixture.worker.persist.worker as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const listener = (job: Job | undefined, second: unknown) => {
      if (job?.id !== jobId) return;
      clearTimeout(timer);
      worker.off(event, listener);
      resolve({ job, err: event === "failed" ? (second as Error) : undefined });
    };
    const timer = setTimeout(() => {
      worker.off(event, listener);
      reject(new Error(`no '${event}' for job ${jobId} within ${timeoutMs} ms`));
    }, timeoutMs);
    worker.on(event, listener);
  });
}

async function jobState(queue: Queue, jobId: string): Promise<string> {
  return queue.getJobState(jobId);
}

describe("worker on the shared FerretDB", () => {
  let connection: Connection;
  let models: Models;

  beforeAll(async () => {
    connection = mongoose.createConnection(testMongoUrl("worker-app"), { bufferCommands: false });
    await connection.asPromise();
    models = createModels(connection);
    await Promise.all([models.Message.init(), models.Conversation.init()]);
  });
  afterAll(async () => {
    await connection?.dropDatabase();
    await connection?.close();
  });

  const storedIds = async (conversationId: string) =>
    (await models.Message.find({ conversationId }).sort({ seq: 1 }).lean()).map((d) => d._id.toHexString());

  const conversation = async (conversationId: string) => {
    const doc = await models.Conversation.findById(conversationId).lean();
    return { lastSeq: doc?.lastSeq, lastMessageId: (doc?.lastMessage?._id as Types.ObjectId | undefined)?.toHexString() };
  };

  it("stores every message of several conversations exactly once, in batches, and confirms each one", async () => {
    const fixture = startWorker(models);
    const conversations = [await seedGroupId(models), await seedGroupId(models), await seedGroupId(models)];
    const persisted = await watchPersisted(conversations);
    const onlyFirst = await watchPersisted([conversations[0]!]);
    const perConversation = 25;
    const messages = Array.from({ length: perConversation }, (_, i) => conversations.map((c) => fakeMessage(c, i + 1))).flat();

    await Promise.all(messages.map((m) => enqueueMessage(fixture.queue, m)));

    await eventually(() => persisted.length >= messages.length, 15_000, "every message:persisted");
    expect(new Set(persisted.map((p) => p.id))).toEqual(new Set(messages.map((m) => m.id)));
    const first = messages[0]!;
    expect(persisted.find((p) => p.id === first.id)).toEqual({
      id: first.id,
      conversationId: first.conversationId,
      seq: first.seq,
      clientMsgId: first.clientMsgId,
    });
    expect(onlyFirst.every((p) => p.conversationId === conversations[0])).toBe(true);
    await eventually(() => onlyFirst.length === perConversation, 5_000, "first room's confirmations");

    for (const c of conversations) {
      const expected = messages.filter((m) => m.conversationId === c);
      expect(await storedIds(c)).toEqual(expected.map((m) => m.id));
      expect(await conversation(c)).toEqual({ lastSeq: perConversation, lastMessageId: expected.at(-1)!.id });
    }
    await eventually(async () => {
      const counts = await fixture.queue.getJobCounts("waiting", "active", "delayed", "failed");
      return Object.values(counts).every((n) => n === 0);
    }, 5_000, "an empty queue");

    const batchSizes = fixture.lines.filter((l) => l.msg === "message batch written").map((l) => l.size as number);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(messages.length);
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
  });

  it("stores one document for a message processed twice", async () => {
    const fixture = startWorker(models);
    const conv = await seedGroupId(models);
    const persisted = await watchPersisted([conv]);
    const m = fakeMessage(conv, 1);

    await enqueueMessage(fixture.queue, m);
    await eventually(() => persisted.length === 1, 10_000, "first confirmation");
    // The job was removed on completion, so the same job id can be queued, and processed, again.
    await eventually(async () => (await fixture.queue.getJob(m.id)) === undefined, 5_000, "job removed");
    await enqueueMessage(fixture.queue, m);
    await eventually(() => persisted.length === 2, 10_000, "second confirmation");

    expect(persisted.map((p) => p.id)).toEqual([m.id, m.id]);
    expect(await storedIds(conv)).toEqual([m.id]);
    expect(await conversation(conv)).toEqual({ lastSeq: 1, lastMessageId: m.id });
  });

  it("never moves lastSeq backwards", async () => {
    const fixture = startWorker(models);
    const conv = await seedGroupId(models);
    const persisted = await watchPersisted([conv]);
    const five = fakeMessage(conv, 5);
    const three = fakeMessage(conv, 3);

    await enqueueMessage(fixture.queue, five);
    await eventually(() => persisted.length === 1, 10_000, "seq 5 confirmed");
    await enqueueMessage(fixture.queue, three);
    await eventually(() => persisted.length === 2, 10_000, "seq 3 confirmed");

    expect(await storedIds(conv)).toEqual([three.id, five.id]);
    expect(await conversation(conv)).toEqual({ lastSeq: 5, lastMessageId: five.id });
  });

  it("fails a job with invalid data, or of an unknown kind, at once and without retries", async () => {
    const fixture = startWorker(models);
    const badId = oid();
    const unknownId = oid();
    const invalid = nextJobEvent(fixture, "failed", badId);
    const unknown = nextJobEvent(fixture, "failed", unknownId);

    await fixture.queue.add("message", { ...fakeMessage(oid(), 1), seq: -1, conversationId: "nope" } as Message, { jobId: badId });
    await fixture.queue.add("notification" as "message", fakeMessage(oid(), 1), { jobId: unknownId });

    const { job, err } = await invalid;
    expect(err?.name).toBe("UnrecoverableError");
    expect(err?.message).toMatch(/conversationId/);
    expect(err?.message).toMatch(/seq/);
    expect(job.attemptsMade).toBe(1);
    expect(await jobState(fixture.queue, badId)).toBe("failed");

    const other = await unknown;
    expect(other.err?.name).toBe("UnrecoverableError");
    expect(await jobState(fixture.queue, unknownId)).toBe("failed");

    const finalErrors = fixture.lines.filter((l) => l.level === LEVEL.error && l.jobId === badId);
    expect(finalErrors).toEqual([expect.objectContaining({ attemptsMade: 1, attempts: 500 })]);
  });

  it("fails only the job whose seq holds another message and stores the rest of its batch", async () => {
    // A batch of exactly three, which only a full batch can trigger: the three jobs share it.
    const fixture = startWorker(models, { batchSize: 3, batchWaitMs: 60_000 });
    const conv = await seedGroupId(models);
    const taken = fakeMessage(conv, 2);
    await models.Message.create({ _id: taken.id, conversationId: conv, seq: 2, senderId: taken.senderId, clientMsgId: taken.clientMsgId, content: "x", type: "text", createdAt: new Date() });
    const persisted = await watchPersisted([conv]);
    const [one, clash, three] = [fakeMessage(conv, 1), fakeMessage(conv, 2), fakeMessage(conv, 3)];
    const failure = nextJobEvent(fixture, "failed", clash.id);

    await Promise.all([one, clash, three].map((m) => enqueueMessage(fixture.queue, m)));

    const { job, err } = await failure;
    expect(err?.name).toBe("UnrecoverableError");
    expect(err?.message).toContain(taken.id);
    expect(job.attemptsMade).toBe(1);
    expect(await jobState(fixture.queue, clash.id)).toBe("failed");
    await eventually(() => persisted.length === 2, 10_000, "the two other confirmations");
    expect(persisted.map((p) => p.id).sort()).toEqual([one.id, three.id].sort());
    expect(await storedIds(conv)).toEqual([one.id, taken.id, three.id]);
    expect(await conversation(conv)).toEqual({ lastSeq: 3, lastMessageId: three.id });

    const conflictLog = fixture.lines.find((l) => l.level === LEVEL.error && l.messageId === clash.id);
    expect(conflictLog).toMatchObject({ existingId: taken.id, conversationId: conv, seq: 2 });
    expect(fixture.lines.find((l) => l.msg === "message batch written")).toMatchObject({ size: 3 });
  });

  it("close() writes the active batch at once and resolves once it is stored", async () => {
    // Batches that would wait a minute to fill: close() must not wait for that.
    const fixture = startWorker(models, { batchSize: 100, batchWaitMs: 60_000 });
    const conv = await seedGroupId(models);
    const persisted = await watchPersisted([conv]);
    const messages = Array.from({ length: 5 }, (_, i) => fakeMessage(conv, i + 1));

    await Promise.all(messages.map((m) => enqueueMessage(fixture.queue, m)));
    await eventually(async () => (await fixture.queue.getActiveCount()) === messages.length, 10_000, "every job active");
    expect(await storedIds(conv)).toEqual([]);

    const started = Date.now();
    await fixture.worker.close();
    expect(Date.now() - started).toBeLessThan(10_000);

    expect(await storedIds(conv)).toEqual(messages.map((m) => m.id));
    expect(await conversation(conv)).toEqual({ lastSeq: 5, lastMessageId: messages[4]!.id });
    expect(await fixture.queue.getJobCounts("waiting", "active", "delayed", "failed", "completed")).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
    });
    await eventually(() => persisted.length === messages.length, 5_000, "every confirmation");
  });
});

describe("worker while MongoDB is unavailable", () => {
  let ferret: FerretDb | undefined;
  let dataDir: string;
  let port: number;
  let connection: Connection;
  let models: Models;

  beforeAll(async () => {
    dataDir = testDir("worker-ferretdb");
    port = await freePort();
    ferret = await startFerretDb({ dataDir, port });
    // A short server selection timeout, so that each attempt during the outage fails within a second.
    connection = mongoose.createConnection(withDatabase(ferret.uri, "outage"), {
      bufferCommands: false,
      serverSelectionTimeoutMS: 1_000,
    });
    connection.on("error", () => {});
    await connection.asPromise();
    models = createModels(connection);
    await Promise.all([models.Message.init(), models.Conversation.init()]);
  });
  afterAll(async () => {
    await connection?.close();
    await ferret?.stop();
  });

  it("retries with backoff and stores the message exactly once when MongoDB is back", async () => {
    const fixture = startWorker(models);
    const conv = await seedGroupId(models);
    const persisted = await watchPersisted([conv]);
    const m = fakeMessage(conv, 1);

    await ferret!.stop();
    const failure = nextJobEvent(fixture, "failed", m.id);
    await enqueueMessage(fixture.queue, m);

    const { job } = await failure;
    expect(job.attemptsMade).toBe(1);
    expect(await jobState(fixture.queue, m.id)).toMatch(/^(delayed|waiting|active)$/);
    expect(persisted).toEqual([]);
    const retryLog = fixture.lines.find((l) => l.level === LEVEL.warn && l.jobId === m.id);
    expect(retryLog).toMatchObject({ attemptsMade: 1, attempts: 500, msg: expect.stringMatching(/retried/) });

    const completed = nextJobEvent(fixture, "completed", m.id, 30_000);
    ferret = await startFerretDb({ dataDir, port });
    await completed;

    await eventually(() => persisted.length === 1, 5_000, "confirmation");
    expect(persisted[0]).toMatchObject({ id: m.id, seq: 1 });
    expect(await models.Message.countDocuments({ _id: m.id })).toBe(1);
    const doc = await models.Conversation.findById(conv).lean();
    expect(doc?.lastSeq).toBe(1);
    expect(fixture.lines.some((l) => l.level === LEVEL.error && l.jobId === m.id)).toBe(false);
  });
});
