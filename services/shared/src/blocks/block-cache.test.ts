/**
 * The block peer cache on a real Redis and FerretDB: filled from one MongoDB read on a miss, both
 * directions of a block, never overwritten by a slow load of an older version, and no memory kept for
 * ever for users without blocks.
 */
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { eventually } from "../../../../test/helpers/events.js";
import { seedUser } from "../../../../test/helpers/seed.js";
import { Gate, useStores } from "../../../../test/helpers/stores.js";
import { BlockCache } from "./block-cache.js";

const stores = useStores("block-cache");

/** A cache whose MongoDB reads of users are counted once done, and whose answers can be held until released. */
function countingCache() {
  const { models, redis, keys } = stores;
  let reads = 0;
  const gate = new Gate();
  const User = new Proxy(models.User, {
    get(target, prop, receiver) {
      if (prop !== "findById") return Reflect.get(target, prop, receiver);
      return (...args: Parameters<typeof target.findById>) => {
        const held = gate.wait();
        // Read now, answer when released: the answer is the state as it was at the call.
        const read = target
          .findById(...args)
          .lean()
          .exec()
          .finally(() => reads++);
        return { lean: () => ({ exec: async () => (await held, read) }) };
      };
    },
  });
  return {
    cache: new BlockCache(redis, keys, { User }),
    reads: () => reads,
    /** Holds the answers of the next MongoDB reads until the returned function is called. */
    holdReads: () => gate.close(),
  };
}

/** Writes a block straight into MongoDB, as the API does, with both users' versions moving. */
async function writeBlock(blocker: { id: string }, target: { id: string }) {
  const { models } = stores;
  await models.User.updateOne({ _id: blocker.id }, { $push: { blocks: { userId: new Types.ObjectId(target.id), createdAt: new Date() } }, $inc: { blocksVersion: 1 } });
  await models.User.updateOne({ _id: target.id }, { $addToSet: { blockedBy: new Types.ObjectId(blocker.id) }, $inc: { blocksVersion: 1 } });
}

describe("BlockCache", () => {
  it("reads MongoDB once per user, then Redis, with peers in both directions", async () => {
    const { models } = stores;
    const [alice, bob, carol] = await Promise.all([seedUser(models), seedUser(models), seedUser(models)]);
    await writeBlock(alice, bob);
    await writeBlock(carol, alice);
    const { cache, reads } = countingCache();

    expect((await cache.peersOf(alice.id)).sort()).toEqual([bob.id, carol.id].sort());
    expect((await cache.peersOf(alice.id)).sort()).toEqual([bob.id, carol.id].sort());
    expect(await cache.peersOf(bob.id)).toEqual([alice.id]);
    expect(reads()).toBe(2);
    expect(await cache.hasBlock(bob.id, alice.id)).toBe(true);
    expect(await cache.hasBlock(bob.id, carol.id)).toBe(false);
    expect(await cache.peersAmong(alice.id, [carol.id, bob.id, alice.id])).toEqual([carol.id, bob.id]);
    const many = await cache.peersOfUsers([alice.id, bob.id, carol.id]);
    expect(many.get(carol.id)).toEqual([alice.id]);
    expect(reads()).toBe(3);
  });

  it("never lets a slow load of an older version overwrite a newer one", async () => {
    const { models, redis, keys } = stores;
    const [alice, bob] = await Promise.all([seedUser(models), seedUser(models)]);
    const slow = countingCache();
    const release = slow.holdReads();
    // A load of alice's state before the block, held until after the block is cached.
    const stale = slow.cache.peersOf(alice.id);
    await eventually(() => slow.reads() === 1, 5_000, "the slow load read MongoDB");

    await writeBlock(alice, bob);
    await new BlockCache(redis, keys, models).refresh(alice.id);
    release();
    expect(await stale).toEqual([]);
    expect(await redis.smembers(keys.userBlocks(alice.id))).toEqual([bob.id]);
    expect(await new BlockCache(redis, keys, models).hasBlock(alice.id, bob.id)).toBe(true);
  });

  it("lets the cache of a user without blocks expire, and keeps that of a user with a block history", async () => {
    const { models, redis, keys } = stores;
    const [alice, bob, carol] = await Promise.all([seedUser(models), seedUser(models), seedUser(models)]);
    const cache = new BlockCache(redis, keys, models);
    expect(await cache.peersOf(carol.id)).toEqual([]);
    expect(await redis.ttl(keys.userBlocksVersion(carol.id))).toBeGreaterThan(0);
    expect(await cache.peersOf(new Types.ObjectId().toHexString())).toEqual([]);

    await writeBlock(alice, bob);
    await cache.refresh(bob.id);
    expect(await redis.ttl(keys.userBlocksVersion(bob.id))).toBe(-1);
    expect(await redis.ttl(keys.userBlocks(bob.id))).toBe(-1);
  });
});
