/**
 * Delivery and read pointers of each (conversation, member), kept in Redis next to the conversation's
 * seq counter: the atomic move (gateway, `conversation:delivered` / `conversation:read`) and the batched
 * read behind the unread counts of a listing (API). MongoDB holds a copy, written by the worker with
 * `$max`, from which {@link ConversationCache.load} restores the pointers when Redis lost them.
 */
import { UnavailableError } from "../errors.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";
import { pipelinePerNode } from "../redis-slots.js";
import { requireMemberLua, type ConversationCache } from "./conversation-cache.js";

/** The two pointers of a member. A read implies delivery up to the same seq. */
export type PointerKind = "delivered" | "read";

/**
 * Moves one member's pointer forward. The requested seq is clamped to the conversation's current seq,
 * and a pointer only ever grows: a lower or equal seq changes nothing. A read also raises the delivery
 * pointer to the same seq.
 *
 * KEYS: members, members version, seq, read pointers, delivery pointers.
 * ARGV: user id, kind ('delivered' | 'read'), requested seq.
 * Returns {'OK', read, delivered, read moved (0|1), delivered moved (0|1)} with the values after the
 * call, or {'FORBIDDEN'}, or {'MISS'} (membership or seq not cached).
 */
const moveScript = new Script<
  [status: "OK", read: number, delivered: number, readMoved: 0 | 1, deliveredMoved: 0 | 1] | [status: "FORBIDDEN" | "MISS"]
>(
  "move-pointer",
  `
${requireMemberLua({ members: "KEYS[1]", membersVersion: "KEYS[2]", seq: "KEYS[3]", user: "ARGV[1]" })}
local target = math.min(tonumber(ARGV[3]), tonumber(redis.call('GET', KEYS[3])))
local read = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
local delivered = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0')
local readMoved, deliveredMoved = 0, 0
if ARGV[2] == 'read' and target > read then
  redis.call('HSET', KEYS[4], ARGV[1], target)
  read = target
  readMoved = 1
end
if target > delivered then
  redis.call('HSET', KEYS[5], ARGV[1], target)
  delivered = target
  deliveredMoved = 1
end
return {'OK', read, delivered, readMoved, deliveredMoved}
`,
);

/** The outcome of {@link PointerStore.move}. */
export interface PointerMove {
  /** The caller's pointer of the requested kind after the call (what the ack carries). */
  seq: number;
  /** Both pointers of the caller after the call. */
  read: number;
  delivered: number;
  /**
   * The pointers that moved, with their new values, delivered before read (the order to announce them,
   * so that an observer never sees a read pointer ahead of the delivery pointer). Empty when nothing moved.
   */
  moved: { kind: PointerKind; seq: number }[];
}

/** One conversation's pointer state as Redis holds it now. */
export interface PointerSnapshot {
  /** The conversation's current (last allocated) seq. */
  seq: number;
  /** User id → read pointer, for every user who has one (former members included). */
  read: Record<string, number>;
  /** User id → delivery pointer, likewise. */
  delivered: Record<string, number>;
}

export interface PointerStoreDeps {
  redis: RedisClient;
  keys: RedisKeys;
  /** Loads a conversation whose state Redis does not hold, pointers included. */
  cache: Pick<ConversationCache, "load" | "runWithState">;
}

/**
 * Most conversations loaded from MongoDB at once when a listing finds them missing from Redis (after a
 * Redis restart without persistence, every conversation of the listing is).
 */
const LOAD_CONCURRENCY = 16;

export class PointerStore {
  constructor(private readonly deps: PointerStoreDeps) {}

  /**
   * Moves `userId`'s pointer of `kind` in `conversationId` towards `seq` (see the script above for the
   * rules). Membership is checked in the same atomic step.
   *
   * @throws {ForbiddenError} when the user is not a member.
   * @throws {NotFoundError} when the conversation does not exist.
   * @throws {UnavailableError} when its state vanished from Redis again right after being loaded.
   */
  async move(conversationId: string, userId: string, kind: PointerKind, seq: number): Promise<PointerMove> {
    const { keys, redis } = this.deps;
    const scriptKeys = [
      keys.conversationMembers(conversationId),
      keys.conversationMembersVersion(conversationId),
      keys.conversationSeq(conversationId),
      keys.conversationRead(conversationId),
      keys.conversationDelivered(conversationId),
    ];
    const args = [userId, kind, seq];
    const [, read, delivered, readMoved, deliveredMoved] = await this.deps.cache.runWithState(conversationId, () =>
      moveScript.run(redis, scriptKeys, args),
    );
    const moved: PointerMove["moved"] = [];
    if (deliveredMoved === 1) moved.push({ kind: "delivered", seq: delivered });
    if (readMoved === 1) moved.push({ kind: "read", seq: read });
    return { seq: kind === "read" ? read : delivered, read, delivered, moved };
  }

  /**
   * The current seq and every pointer of each conversation, read in one pipeline per Redis node.
   * Conversations whose state Redis does not hold are loaded from MongoDB (pointers restored with max
   * semantics) and read again, in a second round for all of them.
   *
   * @throws {NotFoundError} when one of the conversations does not exist.
   * @throws {UnavailableError} when a loaded conversation vanished from Redis again at once.
   */
  async snapshots(conversationIds: readonly string[]): Promise<Map<string, PointerSnapshot>> {
    const ids = [...new Set(conversationIds)];
    const found = await this.read(ids);
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length === 0) return found;

    await forEachLimited(missing, LOAD_CONCURRENCY, (id) => this.deps.cache.load(id));
    const loaded = await this.read(missing);
    for (const id of missing) {
      const snapshot = loaded.get(id);
      if (!snapshot) throw new UnavailableError("Conversation state is unavailable, retry shortly");
      found.set(id, snapshot);
    }
    return found;
  }

  /** The snapshots of the conversations whose seq counter Redis holds; the others are absent. */
  private async read(ids: readonly string[]): Promise<Map<string, PointerSnapshot>> {
    const { keys, redis } = this.deps;
    // A Redis Cluster pipeline must stay on one node, and each conversation has a slot of its own: one
    // pipeline per node, all sent at once (a single Redis: one pipeline).
    const replies = await pipelinePerNode(
      redis,
      ids,
      (id) => keys.conversationSeq(id),
      (pipeline, id) =>
        pipeline.get(keys.conversationSeq(id)).hgetall(keys.conversationRead(id)).hgetall(keys.conversationDelivered(id)),
    );

    const snapshots = new Map<string, PointerSnapshot>();
    ids.forEach((id, i) => {
      const [seq, read, delivered] = [0, 1, 2].map((k) => {
        const [err, value] = replies[i]![k] ?? [new Error("missing pipeline reply"), null];
        if (err) throw err;
        return value;
      });
      if (seq === null || seq === undefined) return;
      snapshots.set(id, {
        seq: Number(seq),
        read: numericHash(read),
        delivered: numericHash(delivered),
      });
    });
    return snapshots;
  }
}

/**
 * The unread count of a member: messages after their read pointer. Never negative (a pointer restored
 * from MongoDB may be ahead of a seq counter restored from an older `lastSeq`). The member's own
 * messages never count, because sending moves the sender's read pointer to the new message.
 */
export function unreadCount(seq: number, readPointer: number | undefined): number {
  return Math.max(0, seq - (readPointer ?? 0));
}

function numericHash(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (value && typeof value === "object") {
    for (const [field, raw] of Object.entries(value as Record<string, string>)) {
      const n = Number(raw);
      if (Number.isSafeInteger(n) && n >= 0) out[field] = n;
    }
  }
  return out;
}

/** Runs `task` on every item, at most `limit` at a time; rejects with the first failure. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
