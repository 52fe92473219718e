/**
 * The cache's index of each user's conversations, on a real Redis and FerretDB: filled from MongoDB on
 * a miss, served from Redis after, dropped by a membership change, and never filled by a load that a
 * membership change overtook.
 */
import { describe, expect, it } from "vitest";

import { seedConversation, seedUser } from "../../../../test/helpers/seed.js";
import { Gate, useStores } from "../../../../test/helpers/stores.js";
import { ConversationCache } from "./conversation-cache.js";

const stores = useStores("conversation-cache");

/** A cache whose MongoDB reads of conversations are counted, and can be held until released. */
function countingCache() {
  const { models, redis, keys } = stores;
  let finds = 0;
  const gate = new Gate();
  const Conversation = new Proxy(models.Conversation, {
    get(target, prop, receiver) {
      if (prop !== "find") return Reflect.get(target, prop, receiver);
      return (...args: Parameters<typeof target.find>) => {
        finds++;
        const query = target.find(...args);
        return { lean: async () => (await gate.wait(), query.lean()) };
      };
    },
  });
  const cache = new ConversationCache(redis, keys, { ...models, Conversation });
  return {
    cache,
    finds: () => finds,
    /** Holds the next MongoDB reads until the returned function is called. */
    holdReads: () => gate.close(),
  };
}

describe("ConversationCache.conversationsOf", () => {
  it("reads MongoDB once, then Redis, until a membership change of the user drops the list", async () => {
    const [alice, bob, carol] = await Promise.all([seedUser(stores.models), seedUser(stores.models), seedUser(stores.models)]);
    const first = await seedConversation(stores.models, [alice, bob]);
    const { cache, finds } = countingCache();

    expect(await cache.conversationsOf(alice.id)).toEqual([first]);
    expect(await cache.conversationsOf(alice.id)).toEqual([first]);
    expect(finds()).toBe(1);

    const second = await seedConversation(stores.models, [alice, carol]);
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
    const loner = await seedUser(stores.models);
    const { cache, finds } = countingCache();
    expect(await cache.conversationsOf(loner.id)).toEqual([]);
    expect(await cache.conversationsOf(loner.id)).toEqual([]);
    expect(finds()).toBe(1);
  });

  it("does not cache a load that a membership change overtook", async () => {
    const [alice, bob, carol] = await Promise.all([seedUser(stores.models), seedUser(stores.models), seedUser(stores.models)]);
    const first = await seedConversation(stores.models, [alice, bob]);
    const { cache, finds, holdReads } = countingCache();

    // A socket's load starts, and a conversation is created (MongoDB, then the cache) before it ends.
    const release = holdReads();
    const slow = cache.conversationsOf(alice.id);
    await expect.poll(finds).toBe(1);
    const second = await seedConversation(stores.models, [alice, carol]);
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
    const [alice, bob, carol, dave, loner] = await Promise.all([seedUser(stores.models), seedUser(stores.models), seedUser(stores.models), seedUser(stores.models), seedUser(stores.models)]);
    const ab = await seedConversation(stores.models, [alice, bob]);
    const abc = await seedConversation(stores.models, [alice, bob, carol]);
    const cd = await seedConversation(stores.models, [carol, dave]);
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

describe("ConversationCache.store and membersAmong", () => {
  it("writes the blocked flag with the member set under its version, never from an older one, and loads it from MongoDB", async () => {
    const { models, redis, keys } = stores;
    const [alice, bob, carol] = await Promise.all([seedUser(models), seedUser(models), seedUser(models)]);
    const id = await seedConversation(models, [alice, bob]);
    const cache = new ConversationCache(redis, keys, models);
    const members = [alice.id, bob.id];
    await cache.store({ id, members, membersVersion: 2, lastSeq: 0, blocked: true });
    expect(await redis.get(keys.conversationBlocked(id))).toBe("1");
    await cache.store({ id, members, membersVersion: 1, lastSeq: 0, blocked: false });
    expect(await redis.get(keys.conversationBlocked(id))).toBe("1");
    await cache.store({ id, members, membersVersion: 3, lastSeq: 0 });
    expect(await redis.get(keys.conversationBlocked(id))).toBeNull();

    expect(await cache.membersAmong(id, [carol.id, bob.id, alice.id])).toEqual([false, true, true]);
    await models.Conversation.updateOne({ _id: id }, { $set: { blocked: true, membersVersion: 4 } });
    await redis.del(keys.conversationMembersVersion(id));
    expect(await cache.membersAmong(id, [alice.id])).toEqual([true]);
    expect(await redis.get(keys.conversationBlocked(id))).toBe("1");
  });
});
