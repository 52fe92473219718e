/**
 * The pieces the bench gateway's variants hand to the product's gateway, on a real Redis: the persist
 * queue that takes new messages aside, the one upsert per message of "persist first", and its adapter,
 * which holds a message's fan-out back until that upsert is done. bench-smoke.test.ts checks both
 * variants end to end, from outside.
 */
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { Types } from "mongoose";
import { Server } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Message } from "@parley/protocol";
import { listen } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";
import { createPersistQueue, enqueueMessage, enqueuePointer, messageJobId, type PersistQueue } from "@parley/shared/queues";
import { createRedis, type RedisClient } from "@parley/shared/redis";

import { divertNewMessages, MessageWrites, persistFirstAdapter } from "../../scripts/bench/gateway-variants.js";
import { nextEvent } from "../helpers/events.js";
import { useRedisServer } from "../helpers/redis.js";
import { fakeMessage } from "../helpers/seed.js";

const redisServer = useRedisServer("bench-variants");
const conversationId = new Types.ObjectId().toHexString();
let queue: PersistQueue;

beforeAll(() => {
  queue = createPersistQueue({ url: redisServer.url }, "{bench-variants}");
});
afterAll(async () => {
  await queue.close();
});

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("divertNewMessages", () => {
  it("hands each new message to its taker instead of the queue, and answers once the taker has", async () => {
    const taken: Message[] = [];
    const gate = deferred();
    divertNewMessages(queue, async (message) => {
      taken.push(message);
      await gate.promise;
    });
    const message = fakeMessage(conversationId, 1);
    let answered = false;
    const enqueued = enqueueMessage(queue, message).then(() => (answered = true));
    await Promise.resolve();
    expect(taken).toEqual([message]);
    expect(answered).toBe(false);
    gate.resolve();
    await enqueued;
    expect(await queue.getJob(messageJobId(message))).toBeUndefined();

    // A revision of a message and every other job are queued as before.
    const edit = { ...message, content: "edited", rev: 1 };
    await enqueueMessage(queue, edit);
    const pointer = { conversationId, userId: new Types.ObjectId().toHexString(), kind: "read" as const, seq: 1, at: new Date().toISOString() };
    await enqueuePointer(queue, pointer);
    expect(taken).toEqual([message]);
    expect((await queue.getJob(messageJobId(edit)))?.data).toEqual(edit);
    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 2 });
  });
});

/** A Message model that counts its upserts and completes each one when told. */
function countingModel() {
  const calls: { filter: unknown; update: unknown; options: unknown; done: () => void }[] = [];
  const Message = {
    updateOne(filter: unknown, update: unknown, options: unknown) {
      const write = deferred();
      calls.push({ filter, update, options, done: write.resolve });
      return write.promise;
    },
  };
  return { calls, models: { Message } as unknown as Pick<Models, "Message"> };
}

describe("MessageWrites", () => {
  it("upserts a message once while its write is in flight, on its id, inserting the worker's document", async () => {
    const { calls, models } = countingModel();
    const writes = new MessageWrites(models);
    const message = fakeMessage(conversationId, 1);
    const first = writes.store(message);
    const joined = writes.store(message);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.options).toEqual({ upsert: true });
    expect(calls[0]!.update).toMatchObject({ $setOnInsert: { content: message.content, seq: 1 } });
    expect(String((calls[0]!.filter as { _id: unknown })._id)).toBe(message.id);

    calls[0]!.done();
    await Promise.all([first, joined]);
    // A later send of the same message (a client's retry) writes again: the upsert leaves the document.
    const retried = writes.store(message);
    expect(calls).toHaveLength(2);
    calls[1]!.done();
    await retried;
  });

  it("lets a failed write fail both of its callers", async () => {
    const writes = new MessageWrites({
      Message: { updateOne: () => Promise.reject(new Error("MongoDB down")) },
    } as unknown as Pick<Models, "Message">);
    const message = fakeMessage(conversationId, 2);
    await expect(Promise.all([writes.store(message), writes.store(message)])).rejects.toThrow("MongoDB down");
  });
});

describe("persistFirstAdapter", () => {
  it("publishes and delivers a message:new of its node once the message is stored, every other broadcast at once", async () => {
    const log = createLogger({ service: "gateway", node: "test", level: "silent" });
    const clients: RedisClient[] = [];
    const redis = (name: string, blocking = false) => {
      const client = createRedis(redisServer.url, { name, log, blocking });
      clients.push(client);
      return client;
    };
    const { calls, models } = countingModel();
    // Node 1 holds message:new back; node 2 is the Redis adapter as shipped, and gets node 1's publishes.
    const adapters = [persistFirstAdapter(redis("n1-pub"), redis("n1-sub", true), new MessageWrites(models), log), createAdapter(redis("n2-pub"), redis("n2-sub", true))];
    const httpServers = adapters.map(() => createServer());
    const nodes = adapters.map((adapter, i) => new Server(httpServers[i], { adapter }));
    const sockets: Socket[] = [];
    try {
      for (const [i, node] of nodes.entries()) {
        node.on("connection", (socket) => void socket.join("room"));
        const port = await listen(httpServers[i]!, 0, "127.0.0.1");
        const socket = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false });
        sockets.push(socket);
        await nextEvent(socket, "connect");
      }
      const seen = sockets.map((socket) => {
        const events: string[] = [];
        socket.onAny((event: string) => events.push(event));
        return events;
      });
      const message = fakeMessage(conversationId, 3);
      const delivered = sockets.map((socket) => nextEvent<Message>(socket, "message:new"));
      const others = sockets.map((socket) => nextEvent(socket, "typing:update"));
      nodes[0]!.to("room").emit("message:new", message);
      nodes[0]!.to("room").emit("typing:update", { conversationId });
      await Promise.all(others);
      expect(seen).toEqual([["typing:update"], ["typing:update"]]);
      expect(calls).toHaveLength(1);

      calls[0]!.done();
      expect(await Promise.all(delivered)).toEqual([message, message]);
      expect(seen).toEqual([
        ["typing:update", "message:new"],
        ["typing:update", "message:new"],
      ]);
    } finally {
      for (const socket of sockets) socket.disconnect();
      await Promise.all(nodes.map((node) => node.close()));
      for (const client of clients) client.disconnect();
    }
  });
});
