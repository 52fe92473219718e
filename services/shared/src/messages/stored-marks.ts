/**
 * Which recent messages are stored in MongoDB, kept in Redis beside the stream they are read from: the
 * worker marks each batch once it is written, and `sync` and history answer `persisted: true` for the
 * messages marked (and for every message they read from MongoDB). So a client that missed a
 * `message:persisted` (its socket was elsewhere, Redis was down when the worker emitted) learns it at
 * its next sync, from the data rather than from an event.
 *
 * Marks are by message id, so a seq reused after an epoch change is never taken for stored. A mark that
 * is missing (trimmed, expired, lost with Redis) only leaves a message's state unknown; it never says a
 * message is stored that is not.
 */
import type { Message } from "@parley/protocol";

import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";

/** Marks kept per conversation: more than the stream holds (`MAXLEN ~ 1000` trims approximately). */
export const STORED_MARKS_KEPT = 2000;

/**
 * KEYS: the conversation's stored set. ARGV: ttl seconds, kept, then seq and id pairs.
 * Adds the marks, keeps the newest `kept`, and refreshes the TTL.
 */
const markScript = new Script<number>(
  "mark-stored",
  `
local key = KEYS[1]
for i = 3, #ARGV, 2 do
  redis.call('ZADD', key, ARGV[i], ARGV[i + 1])
end
redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', key, ARGV[1])
return 1
`,
);

/**
 * Lua: `stored_flags(set, ids)`: for each id, 1 when it is marked stored, else 0; one ZMSCORE for all.
 */
export const STORED_FLAGS_LUA = `
local function stored_flags(set, ids)
  local flags = {}
  if #ids == 0 then return flags end
  local scores = redis.call('ZMSCORE', set, unpack(ids))
  for i = 1, #ids do flags[i] = scores[i] and 1 or 0 end
  return flags
end
`;

export class StoredMarks {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** The stream's TTL: marks live as long as the messages they describe stay in Redis. */
    private readonly ttlSeconds: number,
  ) {}

  /** Marks `messages` (of any conversations) stored: one script call per conversation, in parallel. */
  async mark(messages: readonly Pick<Message, "id" | "conversationId" | "seq">[]): Promise<void> {
    const byConversation = new Map<string, (string | number)[]>();
    for (const { id, conversationId, seq } of messages) {
      const args = byConversation.get(conversationId);
      if (args) args.push(seq, id);
      else byConversation.set(conversationId, [seq, id]);
    }
    await Promise.all(
      [...byConversation].map(([conversationId, pairs]) =>
        markScript.run(this.redis, [this.keys.conversationStored(conversationId)], [this.ttlSeconds, STORED_MARKS_KEPT, ...pairs]),
      ),
    );
  }
}
