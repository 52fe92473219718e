/**
 * The cache's index of each user's conversations, on a real Redis and FerretDB: filled from MongoDB on
 * a miss, served from Redis after, dropped by a membership change, and never filled by a load that a
 * membership change overtook.
 */
import mongoose, { type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedConversation, seedUser } from "../../../../test/helpers/seed.js";
import { createModels, type Models } from "../models/index.js";
import { createRedis, type RedisClient } from "../redis.js";
import { redisKeys, type RedisKeys } from "../redis-keys.js";
import { ConversationCache } from "./conversation-cache.js";

const redisServer = useRedisServer("conversation-cache");
let connection: Connection;
let models: Models;
let redis: RedisClient;
let keys: RedisKeys;

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl("shared-conversation-cache"), { bufferCommands: false });
  await connection.asPromise();
  models = createModels(connection);
  redis = createRedis(redisServer.url, { name: "test", log: pino({ level: "silent" }) });
  keys = redisKeys(`t${uniqueSuffix()}`);
});

afterAll(async () => {
  redis?.disconnect();
  await connection?.close();
});

/** A cache whose MongoDB reads of conversations are counted, and can be held until released. */
function countingCache() {
  let finds = 0;
  let hold: Promise<void> | undefined;
  const Conversation = new Proxy(models.Conversation, {
    get(target, prop, receiver) {
      if (prop !== "find") return Reflect.get(target, prop, receiver);
      return (...args: Parameters<typeof target.find>) => {
        finds++;
        const query = target.find(...args);
        return { lean: async () => (await hold, query.lean()) };
      };
    },
  });
  const cache = new ConversationCache(redis, keys, { ...models, Conversation });
  return {
    cache,
    finds: () => finds,
    /** Holds the next MongoDB reads until the returned function is called. */
    holdReads(): () => void {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

describe("ConversationCache.conversationsOf", () => {
  it("reads MongoDB once, then Redis, until a membership change of the user drops the list", async () => {
    const [alice, bob, carol] = await Promise.all([seedUser(models), seedUser(models), seedUser(models)]);
    const first = await seedConversation(models, [alice, bob]);
    const { cache, finds } = countingCache();

    expect(await cache.conversationsOf(alice.id)).toEqual([first]);
    expect(await cache.conversationsOf(alice.id)).toEqual([first]);
    expect(finds()).toBe(1);

    const second = await seedConversation(models, [alice, carol]);
    // Bob's change does not touch Alice's list…
    await cache.forgetConversationsOf([bob.id]);
    expect(await cache.conversationsOf(alice.id)).toEqual([first]);
    expect(finds()).toBe(1);
    // …hers does.
    await cache.forgetConversationsOf([alice.id, carol.id]);
    expect((await cache.conversationsOf(alice.id)).sort()).toEqual([first, second].sort());
    expect(await cache.conversationsOf(carol.id)).toEqual([second]);
    expect(finds()).toBe(3);
  });

  it("caches a user without conversations too", async () => {
    const loner = await seedUser(models);
    const { cache, finds } = countingCache();
    expect(await cache.conversationsOf(loner.id)).toEqual([]);
    expect(await cache.conversationsOf(loner.id)).toEqual([]);
    expect(finds()).toBe(1);
  });

  it("does not cache a load that a membership change overtook", async () => {
    const [alice, bob, carol] = await Promise.all([seedUser(models), seedUser(models), seedUser(models)]);
    const first = await seedConversation(models, [alice, bob]);
    const { cache, finds, holdReads } = countingCache();

    // A socket's load starts, and a conversation is created (MongoDB, then the cache) before it ends.
    const release = holdReads();
    const slow = cache.conversationsOf(alice.id);
    await expect.poll(finds).toBe(1);
    const second = await seedConversation(models, [alice, carol]);
    await cache.forgetConversationsOf([alice.id, carol.id]);
    release();
    // That load may or may not have seen the new conversation (the API's socketsJoin covers a live
    // socket either way), but it must not be what the next socket gets.
    expect(await slow).toContain(first);
    expect((await cache.conversationsOf(alice.id)).sort()).toEqual([first, second].sort());
    expect(finds()).toBe(2);
  });
});

describe("ConversationCache.conversationsOfUsers", () => {
  it("loads every user not cached in one MongoDB read, caches them all, and answers only for those asked", async () => {
    const [alice, bob, carol, dave, loner] = await Promise.all([seedUser(models), seedUser(models), seedUser(models), seedUser(models), seedUser(models)]);
    const ab = await seedConversation(models, [alice, bob]);
    const abc = await seedConversation(models, [alice, bob, carol]);
    const cd = await seedConversation(models, [carol, dave]);
    const { cache, finds } = countingCache();
    expect(await cache.conversationsOf(carol.id)).toHaveLength(2);

    const found = await cache.conversationsOfUsers([alice.id, bob.id, carol.id, loner.id]);
    expect(finds()).toBe(2);
    expect([...found.keys()].sort()).toEqual([alice.id, bob.id, carol.id, loner.id].sort());
    expect(found.get(alice.id)!.sort()).toEqual([ab, abc].sort());
    expect(found.get(bob.id)!.sort()).toEqual([ab, abc].sort());
    expect(found.get(carol.id)!.sort()).toEqual([abc, cd].sort());
    expect(found.get(loner.id)).toEqual([]);

    // All of them are cached now, the user without conversations too; dave was not asked for.
    expect((await cache.conversationsOfUsers([alice.id, bob.id, loner.id])).get(bob.id)!.sort()).toEqual([ab, abc].sort());
    expect(finds()).toBe(2);
    expect(await cache.conversationsOf(dave.id)).toEqual([cd]);
    expect(finds()).toBe(3);
  });
});
