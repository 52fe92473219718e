/**
 * The Redis cache of each conversation's members and seq counter, which lets a send be checked and
 * numbered in one Redis step with no MongoDB read, and of each user's conversations, which a connecting
 * socket joins without a MongoDB query. MongoDB is the source of truth; the cache is filled from it on a
 * miss and replaced (members) or dropped (a user's conversations) on every membership change.
 */
import { randomUUID } from "node:crypto";

import { Types } from "mongoose";

import { cachedMembersAmong } from "../cached-set.js";
import { ForbiddenError, NotFoundError, UnavailableError } from "../errors.js";
import type { Models } from "../models/index.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";

/**
 * Replaces the member set and the blocked flag if the given version is not older than the cached one (so
 * a slow load of an old membership can never overwrite a newer one). If the seq counter is missing (a
 * new conversation, or Redis lost it), restores it from MongoDB's last seq and starts a new epoch, and
 * raises the pointers to at least their stored values.
 *
 * KEYS: members, members version, seq, epoch, read, delivered, blocked.
 * ARGV: JSON { version, lastSeq, members: [], blocked, read: { user: seq }, delivered: { user: seq } },
 * new epoch id.
 */
const hydrateScript = new Script<number>(
  "hydrate-conversation",
  `
local state = cjson.decode(ARGV[1])
local cached = tonumber(redis.call('GET', KEYS[2]) or '0')
if state.version >= cached then
  redis.call('DEL', KEYS[1])
  if #state.members > 0 then redis.call('SADD', KEYS[1], unpack(state.members)) end
  if state.blocked then redis.call('SET', KEYS[7], '1') else redis.call('DEL', KEYS[7]) end
  redis.call('SET', KEYS[2], state.version)
end
if redis.call('SET', KEYS[3], state.lastSeq, 'NX') then
  redis.call('HSET', KEYS[4], 'id', ARGV[2], 'base', state.lastSeq)
  for hash, stored in pairs({ [KEYS[5]] = state.read, [KEYS[6]] = state.delivered }) do
    for user, seq in pairs(stored) do
      local current = tonumber(redis.call('HGET', hash, user) or '0')
      if seq > current then redis.call('HSET', hash, user, seq) end
    end
  end
end
return 1
`,
);

/**
 * A user's cached conversations: `{1, ids}` when cached, else `{0, gen}` with the generation a load must
 * hand back to {@link storeUserConversationsScript}.
 *
 * KEYS: user conversations, their state.
 */
const userConversationsScript = new Script<[1, string[]] | [0, string]>(
  "user-conversations",
  `
if redis.call('HGET', KEYS[2], 'loaded') then
  return {1, redis.call('SMEMBERS', KEYS[1])}
end
return {0, redis.call('HGET', KEYS[2], 'gen') or '0'}
`,
);

/**
 * Caches a user's conversations loaded from MongoDB, unless a membership change of the user happened since
 * the load began (the generation moved on): that load may predate the change. Returns 1 if cached.
 *
 * KEYS: user conversations, their state. ARGV: generation read before the load, TTL seconds, ids….
 */
const storeUserConversationsScript = new Script<number>(
  "store-user-conversations",
  `
if (redis.call('HGET', KEYS[2], 'gen') or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[2], 'loaded', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
`,
);

/**
 * Drops a user's cached conversations after a membership change of the user, and moves the generation on
 * so that a load that began before the change is not cached either.
 *
 * KEYS: user conversations, their state. ARGV: TTL seconds.
 */
const forgetUserConversationsScript = new Script<number>(
  "forget-user-conversations",
  `
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], 'loaded')
redis.call('HINCRBY', KEYS[2], 'gen', 1)
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
`,
);

/**
 * How long a user's conversations stay cached: a bound on how stale they can be if a membership change
 * could not drop them (Redis failed right after MongoDB's write), and on the memory of idle users.
 */
const USER_CONVERSATIONS_TTL_SECONDS = 3600;

/**
 * What a script that reads a conversation's cached state answers when it cannot go on: `MISS`, the
 * state is not in Redis (load it and run again); `FORBIDDEN`, the caller is not a member; `BLOCKED`,
 * the conversation is direct and one of its members blocks the other (see {@link refuseBlockedLua}).
 */
export type StateRefusal = readonly [status: "MISS" | "FORBIDDEN" | "BLOCKED"];

/**
 * The Lua preamble of a script that needs the conversation's cached state: it answers `MISS` when the
 * membership (or, if given, the seq counter) is not cached, and `FORBIDDEN` when the user is not a
 * member. Arguments are Lua expressions naming the keys and the user (`"KEYS[1]"`, `"ARGV[1]"`…).
 * Pair it with {@link ConversationCache.runWithState}.
 */
export function requireMemberLua(at: { members: string; membersVersion: string; seq?: string; user: string }): string {
  const cached = at.seq
    ? `redis.call('EXISTS', ${at.membersVersion}) == 0 or redis.call('EXISTS', ${at.seq}) == 0`
    : `redis.call('EXISTS', ${at.membersVersion}) == 0`;
  return `
if ${cached} then
  return {'MISS'}
end
if redis.call('SISMEMBER', ${at.members}, ${at.user}) == 0 then
  return {'FORBIDDEN'}
end
`;
}

/**
 * The Lua of a script that must not write into a blocked direct conversation: it answers `BLOCKED` when
 * the conversation's blocked flag (`blocked`, a Lua expression naming the key) is set, unless the Lua
 * condition `unless` holds. Place it after {@link requireMemberLua}, whose `MISS` guarantees the flag is
 * cached: it is written with the member set, under the same version.
 */
export function refuseBlockedLua(at: { blocked: string; unless?: string }): string {
  const blocked = `redis.call('EXISTS', ${at.blocked}) == 1`;
  return `
if ${at.unless ? `not (${at.unless}) and ` : ""}${blocked} then
  return {'BLOCKED'}
end
`;
}

/** What the cache needs to know of a conversation. */
export interface ConversationMembership {
  id: string;
  members: readonly string[];
  membersVersion: number;
  lastSeq: number;
  /**
   * Whether the conversation is direct and one of its members blocks the other (its `blocked` field).
   * @default false
   */
  blocked?: boolean;
  /** Stored read pointers (user id → seq), restored if Redis lost the conversation's state. */
  read?: Readonly<Record<string, number>>;
  /** Stored delivery pointers (user id → seq), likewise. */
  delivered?: Readonly<Record<string, number>>;
}

export class ConversationCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /**
     * The models the cache loads from. The message pipeline built on this cache reads messages through
     * the same ones, so that every service wires one set of models once.
     */
    readonly models: Pick<Models, "Conversation" | "Receipt" | "Message">,
  ) {}

  /**
   * Writes a conversation's membership and blocked flag (and, if missing, its seq counter, epoch and
   * pointers) to the cache, unless the cache holds a newer `membersVersion`.
   */
  async store({ id, members, membersVersion, lastSeq, blocked = false, read = {}, delivered = {} }: ConversationMembership): Promise<void> {
    const { keys } = this;
    await hydrateScript.run(
      this.redis,
      [
        keys.conversationMembers(id),
        keys.conversationMembersVersion(id),
        keys.conversationSeq(id),
        keys.conversationEpoch(id),
        keys.conversationRead(id),
        keys.conversationDelivered(id),
        keys.conversationBlocked(id),
      ],
      [JSON.stringify({ version: membersVersion, lastSeq, members, blocked, read, delivered }), randomUUID()],
    );
  }

  /**
   * Loads a conversation from MongoDB into the cache.
   * @throws {NotFoundError} when the conversation does not exist.
   */
  async load(conversationId: string): Promise<void> {
    const _id = new Types.ObjectId(conversationId);
    const [doc, receipts] = await Promise.all([
      this.models.Conversation.findById(_id, { members: 1, membersVersion: 1, lastSeq: 1, blocked: 1 }).lean(),
      this.models.Receipt.find({ conversationId: _id }, { userId: 1, read: 1, delivered: 1 }).lean(),
    ]);
    if (!doc) throw new NotFoundError("Conversation not found");
    await this.store({
      id: conversationId,
      members: doc.members.map((m) => m.toHexString()),
      membersVersion: doc.membersVersion,
      lastSeq: doc.lastSeq,
      blocked: doc.blocked === true,
      read: Object.fromEntries(receipts.map((r) => [r.userId.toHexString(), r.read])),
      delivered: Object.fromEntries(receipts.map((r) => [r.userId.toHexString(), r.delivered])),
    });
  }

  /**
   * Runs a script that needs the conversation's cached state. On `MISS` the conversation is loaded
   * from MongoDB and the script runs once more; the refusals become errors, so the caller only sees the
   * script's own answers.
   *
   * @throws {NotFoundError} when the conversation does not exist.
   * @throws {ForbiddenError} when the script answers `FORBIDDEN` or `BLOCKED`.
   * @throws {UnavailableError} when the state vanished again right after loading (Redis is evicting or
   * was flushed).
   */
  async runWithState<R extends readonly unknown[]>(conversationId: string, run: () => Promise<R>): Promise<Exclude<R, StateRefusal>> {
    let reply = await run();
    if (reply[0] === "MISS") {
      await this.load(conversationId);
      reply = await run();
    }
    if (reply[0] === "MISS") throw new UnavailableError("Conversation state is unavailable, retry shortly");
    if (reply[0] === "FORBIDDEN") throw new ForbiddenError("You are not a member of this conversation");
    if (reply[0] === "BLOCKED") throw new ForbiddenError("You cannot write in this conversation: one of you has blocked the other");
    return reply as Exclude<R, StateRefusal>;
  }

  /**
   * Whether `userId` is a member, from the cache (loaded from MongoDB on a miss).
   * @throws {NotFoundError} when the conversation does not exist.
   * @throws {UnavailableError} when the state vanished again right after loading.
   */
  async isMember(conversationId: string, userId: string): Promise<boolean> {
    const [member] = await this.membersAmong(conversationId, [userId]);
    return member === true;
  }

  /**
   * Which of `userIds` are members, in their order, from the cache (loaded from MongoDB on a miss).
   * @throws {NotFoundError} when the conversation does not exist.
   * @throws {UnavailableError} when the state vanished again right after loading.
   */
  async membersAmong(conversationId: string, userIds: readonly string[]): Promise<boolean[]> {
    if (userIds.length === 0) return [];
    const keys = { set: this.keys.conversationMembers(conversationId), version: this.keys.conversationMembersVersion(conversationId) };
    let found = await cachedMembersAmong(this.redis, keys, userIds);
    if (!found) {
      await this.load(conversationId);
      found = await cachedMembersAmong(this.redis, keys, userIds);
    }
    if (!found) throw new UnavailableError("Conversation state is unavailable, retry shortly");
    return found;
  }

  /**
   * Ids of the conversations `userId` is a member of: from Redis, or from MongoDB on a miss (then cached,
   * unless a membership change of the user raced the load).
   */
  async conversationsOf(userId: string): Promise<string[]> {
    return (await this.conversationsOfUsers([userId])).get(userId)!;
  }

  /**
   * {@link conversationsOf} for many users at once, with one MongoDB query for all those not cached (a
   * reaper announcing a dead gateway's users offline asks for hundreds).
   */
  async conversationsOfUsers(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    /** Users not cached, with the generation their load must hand back. */
    const misses = new Map<string, string>();
    // One script per user: each touches only its user's slot on a Redis Cluster.
    await Promise.all(
      userIds.map(async (userId) => {
        const [cached, value] = await userConversationsScript.run(this.redis, this.userConversationsKeys(userId), []);
        if (cached === 1) found.set(userId, value);
        else misses.set(userId, value);
      }),
    );
    if (misses.size === 0) return found;

    const loaded = await this.loadConversationsOf([...misses.keys()]);
    await Promise.all(
      [...misses].map(([userId, generation]) => {
        const ids = loaded.get(userId) ?? [];
        found.set(userId, ids);
        return storeUserConversationsScript.run(this.redis, this.userConversationsKeys(userId), [
          generation,
          USER_CONVERSATIONS_TTL_SECONDS,
          ...ids,
        ]);
      }),
    );
    return found;
  }

  /** The conversations of each of `userIds` in MongoDB; users without any are absent. */
  private async loadConversationsOf(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const { Conversation } = this.models;
    if (userIds.length === 1) {
      const docs = await Conversation.find({ members: new Types.ObjectId(userIds[0]) }, { _id: 1 }).lean();
      return new Map([[userIds[0]!, docs.map((doc) => doc._id.toHexString())]]);
    }
    const wanted = new Set(userIds);
    const docs = await Conversation.find({ members: { $in: userIds.map((id) => new Types.ObjectId(id)) } }, { _id: 1, members: 1 }).lean();
    const byUser = new Map<string, string[]>();
    for (const doc of docs) {
      const conversationId = doc._id.toHexString();
      for (const member of doc.members) {
        const userId = member.toHexString();
        if (!wanted.has(userId)) continue;
        const ids = byUser.get(userId);
        if (ids) ids.push(conversationId);
        else byUser.set(userId, [conversationId]);
      }
    }
    return byUser;
  }

  private userConversationsKeys(userId: string): string[] {
    return [this.keys.userConversations(userId), this.keys.userConversationsState(userId)];
  }

  /**
   * Drops the cached conversations of `userIds` after their membership changed in MongoDB (call it after
   * the write): their next {@link conversationsOf} reads MongoDB again.
   */
  async forgetConversationsOf(userIds: readonly string[]): Promise<void> {
    // One script per user: each touches only its user's slot on a Redis Cluster.
    await Promise.all(
      userIds.map((userId) =>
        forgetUserConversationsScript.run(this.redis, this.userConversationsKeys(userId), [USER_CONVERSATIONS_TTL_SECONDS]),
      ),
    );
  }
}
