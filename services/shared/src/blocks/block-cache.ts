/**
 * The Redis cache of each user's block peers: the users with whom they have a block, in either
 * direction (whom they block, and who blocks them). A block cuts every direct channel both ways, so one
 * set per user answers every check (typing, presence, calls, opening a direct conversation) with a key
 * lookup. MongoDB is the source of truth (`blocks` and `blockedBy` of the user document); the set is
 * filled from it on a miss with one read by `_id`, and replaced after every block or unblock, under the
 * document's `blocksVersion` so that a slow load of an old state never overwrites a newer one.
 */
import { Types } from "mongoose";

import { cachedMembersAmong } from "../cached-set.js";
import type { Models, UserDoc } from "../models/index.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";

/**
 * Replaces a user's peer set if the given version is not older than the cached one. Version 0 (a user
 * who never blocked anyone nor was blocked, or who does not exist) expires after ARGV[2] seconds, so
 * idle users cost no memory for ever; any later version stays, since it is what orders a stale load of
 * version 0 (or of any older version) out.
 *
 * KEYS: peers, version. ARGV: version, TTL seconds for version 0, peer ids….
 * Returns 1 if stored, 0 if the cache held a newer version.
 */
const storePeersScript = new Script<number>(
  "store-block-peers",
  `
local version = tonumber(ARGV[1])
local cached = tonumber(redis.call('GET', KEYS[2]) or '-1')
if version < cached then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('SET', KEYS[2], version)
if version == 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1
`,
);

/**
 * A user's cached peers: `{1, ids…}` when cached, `{0}` when not.
 * KEYS: peers, version.
 */
const readPeersScript = new Script<[1, ...string[]] | [0]>(
  "read-block-peers",
  `
if redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
local peers = redis.call('SMEMBERS', KEYS[1])
table.insert(peers, 1, 1)
return peers
`,
);

/**
 * How long the cache of a user without any block (version 0) lives. Nothing ever makes it stale: the
 * first block stores version 1, which never expires.
 */
const UNBLOCKED_TTL_SECONDS = 3600;

/** Users loaded from MongoDB at once by {@link BlockCache.peersOfUsers}. */
const LOAD_CONCURRENCY = 16;

/** The part of a user document the peers are read from. */
export type BlockFields = Pick<UserDoc, "blocks" | "blockedBy" | "blocksVersion">;

/** Project reads of user documents for {@link peersOfDoc} to these fields. */
export const BLOCK_FIELDS = { blocks: 1, blockedBy: 1, blocksVersion: 1 } as const;

/** The peers of a user document: whom it blocks and who blocks it, each once, never itself. */
export function peersOfDoc(doc: Pick<UserDoc, "_id"> & Partial<BlockFields>): string[] {
  const self = doc._id.toHexString();
  const peers = new Set<string>();
  for (const entry of doc.blocks ?? []) peers.add(entry.userId.toHexString());
  for (const id of doc.blockedBy ?? []) peers.add(id.toHexString());
  peers.delete(self);
  return [...peers];
}

export class BlockCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly models: Pick<Models, "User">,
  ) {}

  /** The peers of `userId`: from Redis, or from MongoDB on a miss (then cached). */
  async peersOf(userId: string): Promise<string[]> {
    const reply = await readPeersScript.run(this.redis, this.peerKeys(userId), []);
    if (reply[0] === 1) return reply.slice(1) as string[];
    return this.refresh(userId);
  }

  /**
   * {@link peersOf} for many users at once (a reaper announcing a dead gateway's users offline asks for
   * hundreds): one script per user, each in its user's slot, then one read by `_id` per user not cached.
   */
  async peersOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    const misses: string[] = [];
    await Promise.all(
      [...new Set(userIds)].map(async (userId) => {
        const reply = await readPeersScript.run(this.redis, this.peerKeys(userId), []);
        if (reply[0] === 1) found.set(userId, reply.slice(1) as string[]);
        else misses.push(userId);
      }),
    );
    // By `_id`, one at a time per lane: `_id: { $in }` is a scan of the collection on FerretDB's SQLite backend.
    let next = 0;
    const lane = async () => {
      while (next < misses.length) {
        const userId = misses[next++]!;
        found.set(userId, await this.refresh(userId));
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONCURRENCY, misses.length) }, lane));
    return found;
  }

  /** The users of `otherIds` that are peers of `userId` (a block between them, either way), in their order. */
  async peersAmong(userId: string, otherIds: readonly string[]): Promise<string[]> {
    if (otherIds.length === 0) return [];
    const keys = { set: this.keys.userBlocks(userId), version: this.keys.userBlocksVersion(userId) };
    const found = await cachedMembersAmong(this.redis, keys, otherIds);
    if (found) return otherIds.filter((_, i) => found[i]);
    // Answered from the load itself: the cache may be gone again at once (Redis evicting, or flushed).
    const peers = new Set(await this.refresh(userId));
    return otherIds.filter((id) => peers.has(id));
  }

  /** Whether there is a block between `userId` and `otherId`, in either direction. */
  async hasBlock(userId: string, otherId: string): Promise<boolean> {
    return (await this.peersAmong(userId, [otherId])).length > 0;
  }

  /**
   * Reads `userId`'s peers from MongoDB (one read by `_id`) and caches them, unless the cache already
   * holds a newer version. Call it after every change of the user's blocks, once MongoDB has it.
   * An unknown user has no peers. Returns the peers read.
   */
  async refresh(userId: string): Promise<string[]> {
    const doc = await this.models.User.findById(new Types.ObjectId(userId), BLOCK_FIELDS)
      .lean<Pick<UserDoc, "_id"> & Partial<BlockFields>>()
      .exec();
    const peers = doc ? peersOfDoc(doc) : [];
    await storePeersScript.run(this.redis, this.peerKeys(userId), [doc?.blocksVersion ?? 0, UNBLOCKED_TTL_SECONDS, ...peers]);
    return peers;
  }

  private peerKeys(userId: string): string[] {
    return [this.keys.userBlocks(userId), this.keys.userBlocksVersion(userId)];
  }
}
