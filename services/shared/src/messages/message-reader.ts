/**
 * Reads a conversation's messages in their latest state, wherever they are: the Redis stream holds the
 * recent ones as sent, the overlay hash their later states (edits, deletes, reactions), and MongoDB
 * everything the worker stored, including what the stream no longer holds. `sync` and the history
 * route both read through here, so both show messages the worker has not stored yet, and changes it
 * has not stored yet.
 */
import { randomUUID } from "node:crypto";

import { Types } from "mongoose";

import { UnavailableError } from "../errors.js";
import { messageToWire, type MessageDoc, type Models } from "../models/index.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";
import type { Message } from "@parley/protocol";
import type { ConversationCache } from "./conversation-cache.js";
import { STORED_FLAGS_LUA } from "./stored-marks.js";

/**
 * Lua: `latest(overlay, stored, entries)` turns stream entries into a flat list
 * `{ as sent 1, overlay 1 | false, stored 1 (1 | 0), as sent 2, … }`, with one HMGET of the overlay and
 * one ZMSCORE of the stored marks (stored-marks.ts) for all of them. The as-sent JSON starts
 * `{"seq":N,"id":"…"` (see the send script), so the first `"id":"` is the id.
 */
const LATEST_LUA = `
${STORED_FLAGS_LUA}
local function latest(overlay, stored, entries)
  local out = {}
  if #entries == 0 then return out end
  local ids = {}
  for i = 1, #entries do
    local json = entries[i][2][2]
    out[3 * i - 2] = json
    ids[i] = string.match(json, '"id":"(%x+)"') or ''
  end
  local newer = redis.call('HMGET', overlay, unpack(ids))
  local flags = stored_flags(stored, ids)
  for i = 1, #entries do
    out[3 * i - 1] = newer[i]
    out[3 * i] = flags[i]
  end
  return out
end
`;

/**
 * Lua: `find_recent(stream, overlay, id)`: the latest JSON of message `id` if Redis holds it (overlay,
 * else the stream, scanned newest first since changes and replies mostly concern recent messages),
 * else false. The needle cannot match inside another field: `"replyToId":"…"` has no `"id":"`, and
 * quotes inside content are escaped.
 */
export const FIND_RECENT_LUA = `
local function find_recent(stream, overlay, id)
  local latest = redis.call('HGET', overlay, id)
  if latest then return latest end
  local needle = '"id":"' .. id .. '"'
  local top = '+'
  while true do
    local entries = redis.call('XREVRANGE', stream, top, '-', 'COUNT', 200)
    for i = 1, #entries do
      local json = entries[i][2][2]
      if string.find(json, needle, 1, true) then return json end
    end
    if #entries < 200 then return false end
    top = '(' .. entries[#entries][1]
  end
end
`;

/**
 * Messages after a seq, with what is needed to judge the answer. A conversation that has a seq counter
 * but no epoch (state from before epochs existed) gets one, starting at 0.
 *
 * KEYS: stream, overlay, seq, epoch, stored. ARGV: first entry id (`<afterSeq + 1>-0`), count, fresh
 * epoch id. Returns {seq | false, epoch id | false, epoch base | false, overlay size, latest(entries)}.
 */
const readAfterScript = new Script<
  [seq: string | null, epochId: string | null, epochBase: string | null, overlaySize: number, entries: LatestEntries]
>(
  "read-messages-after",
  `${LATEST_LUA}
local seq = redis.call('GET', KEYS[3])
if seq and redis.call('HSETNX', KEYS[4], 'id', ARGV[3]) == 1 then
  redis.call('HSET', KEYS[4], 'base', 0)
end
local epoch = redis.call('HMGET', KEYS[4], 'id', 'base')
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
return {seq or false, epoch[1], epoch[2], redis.call('HLEN', KEYS[2]), latest(KEYS[2], KEYS[5], entries)}
`,
);

/**
 * Messages before a seq, newest first.
 *
 * KEYS: stream, overlay, stored. ARGV: highest entry id (`+` or `(<before>-0`), count.
 * Returns {overlay size, latest(entries)}.
 */
const readBeforeScript = new Script<[overlaySize: number, entries: LatestEntries]>(
  "read-messages-before",
  `${LATEST_LUA}
local entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])
return {redis.call('HLEN', KEYS[2]), latest(KEYS[2], KEYS[3], entries)}
`,
);

/** A conversation's epoch: its id changes whenever Redis lost the conversation's seq counter. */
export interface Epoch {
  id: string;
  /** The last seq of the previous epoch: seqs above it were (re)allocated in this one. */
  base: number;
}

/** The answer of {@link MessageReader.after}. */
export interface MessagesAfter {
  /** Messages with seq > afterSeq, ascending, at most `limit`. A seq nothing holds is skipped. */
  messages: Message[];
  /** More messages follow the last one returned. */
  hasMore: boolean;
  /** The conversation's last allocated seq. */
  lastSeq: number;
  epoch: Epoch;
}

/** The answer of {@link MessageReader.before}. */
export interface MessagesBefore {
  /** Ascending by seq: the newest `limit` messages below `before`. */
  messages: Message[];
  /** Older messages exist. */
  hasOlder: boolean;
}

export interface MessageReaderDeps {
  redis: RedisClient;
  keys: RedisKeys;
  /** Restores a conversation's seq counter and epoch when Redis lost them. */
  cache: ConversationCache;
  models: Pick<Models, "Message">;
}

export class MessageReader {
  constructor(private readonly deps: MessageReaderDeps) {}

  /**
   * Up to `limit` messages with seq > `afterSeq`, ascending: from the stream for what it holds, from
   * MongoDB below the stream's first entry (trimmed, expired, or from before a Redis loss).
   *
   * Never beyond the seq counter, so never a message of a previous epoch that the worker stored late.
   * @throws {NotFoundError} when the conversation does not exist.
   */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<MessagesAfter> {
    const { keys, redis } = this.deps;
    const want = limit + 1;
    const scriptKeys = [
      keys.conversationStream(conversationId),
      keys.conversationOverlay(conversationId),
      keys.conversationSeq(conversationId),
      keys.conversationEpoch(conversationId),
      keys.conversationStored(conversationId),
    ];
    const args = [`${afterSeq + 1}-0`, want, randomUUID()];
    let reply = await readAfterScript.run(redis, scriptKeys, args);
    if (reply[0] === null) {
      await this.deps.cache.load(conversationId);
      reply = await readAfterScript.run(redis, scriptKeys, args);
    }
    const [seq, epochId, epochBase, overlaySize, entries] = reply;
    if (seq === null || epochId === null) throw new UnavailableError("Conversation state is unavailable, retry shortly");
    const lastSeq = Number(seq);
    const recent = latestStates(entries);

    // Below the stream's first entry (or up to the counter when the stream holds nothing after afterSeq).
    const below = recent[0]?.seq ?? lastSeq + 1;
    const older =
      below > afterSeq + 1
        ? await this.stored(conversationId, { seq: { $gt: afterSeq, $lt: below } }, 1, want, overlaySize)
        : [];
    const merged = [...older, ...recent].slice(0, want);
    return {
      messages: merged.slice(0, limit),
      hasMore: merged.length > limit,
      lastSeq,
      epoch: { id: epochId, base: Number(epochBase ?? 0) },
    };
  }

  /** The newest `limit` messages with seq < `before` (the newest of all without it), ascending. */
  async before(conversationId: string, before: number | undefined, limit: number): Promise<MessagesBefore> {
    const { keys, redis } = this.deps;
    const want = limit + 1;
    const [overlaySize, entries] = await readBeforeScript.run(
      redis,
      [keys.conversationStream(conversationId), keys.conversationOverlay(conversationId), keys.conversationStored(conversationId)],
      [before === undefined ? "+" : `(${before}-0`, want],
    );
    const recent = latestStates(entries);
    const below = recent.at(-1)?.seq ?? before;
    const older =
      recent.length < want
        ? await this.stored(
            conversationId,
            below === undefined ? {} : { seq: { $lt: below } },
            -1,
            want - recent.length,
            overlaySize,
          )
        : [];
    const newestFirst = [...recent, ...older];
    return { messages: newestFirst.slice(0, limit).reverse(), hasOlder: newestFirst.length > limit };
  }

  /**
   * A message as MongoDB stores it, or null: by id alone, or within `conversationId`. Does not look at
   * Redis: use it for a message that Redis does not hold.
   */
  async storedMessage(conversationId: string | undefined, messageId: string): Promise<Message | null> {
    const filter = {
      _id: new Types.ObjectId(messageId),
      ...(conversationId === undefined ? {} : { conversationId: new Types.ObjectId(conversationId) }),
    };
    const doc = await this.deps.models.Message.findOne(filter).lean<MessageDoc>().exec();
    return doc ? messageToWire(doc) : null;
  }

  /** Stored messages matching `seqFilter`, in seq order `direction`, with newer overlay states applied. */
  private async stored(
    conversationId: string,
    seqFilter: object,
    direction: 1 | -1,
    limit: number,
    overlaySize: number,
  ): Promise<Message[]> {
    const docs = await this.deps.models.Message.find({ conversationId: new Types.ObjectId(conversationId), ...seqFilter })
      .sort({ seq: direction })
      .limit(limit)
      .lean<MessageDoc[]>()
      .exec();
    const messages = docs.map(messageToWire);
    const latest = messages.length === 0 || overlaySize === 0 ? messages : await this.withOverlay(conversationId, messages);
    // Read from MongoDB: stored, whatever later state the overlay holds.
    return latest.map((message) => ({ ...message, persisted: true }));
  }

  /**
   * `messages` (stored states, of any conversations) in their latest state: each one replaced by its
   * overlay state where that is newer. One HMGET per conversation; the order is kept.
   */
  async latest(messages: readonly Message[]): Promise<Message[]> {
    const byConversation = new Map<string, number[]>();
    messages.forEach((message, i) => {
      const at = byConversation.get(message.conversationId);
      if (at) at.push(i);
      else byConversation.set(message.conversationId, [i]);
    });
    const result = [...messages];
    await Promise.all(
      [...byConversation].map(async ([conversationId, at]) => {
        const newer = await this.withOverlay(conversationId, at.map((i) => messages[i]!));
        newer.forEach((message, j) => (result[at[j]!] = message));
      }),
    );
    return result;
  }

  /** `messages` of one conversation, each replaced by its overlay state where that is newer. */
  private async withOverlay(conversationId: string, messages: readonly Message[]): Promise<Message[]> {
    const newer = await this.deps.redis.hmget(
      this.deps.keys.conversationOverlay(conversationId),
      ...messages.map((m) => m.id),
    );
    return messages.map((message, i) => {
      const json = newer[i];
      if (!json) return message;
      const changed = JSON.parse(json) as Message;
      return (changed.rev ?? 0) > (message.rev ?? 0) ? changed : message;
    });
  }
}

/** The flat list `latest()` returns: as sent, overlay state or null, stored flag; for each entry. */
type LatestEntries = (string | number | null)[];

/**
 * Parses the flat `latest()` list: each entry's overlay state when there is one, else its state as
 * sent, with `persisted: true` when the worker marked it stored.
 */
function latestStates(entries: LatestEntries): Message[] {
  const messages: Message[] = [];
  for (let i = 0; i < entries.length; i += 3) {
    const message = JSON.parse(String(entries[i + 1] ?? entries[i])) as Message;
    messages.push(entries[i + 2] === 1 ? { ...message, persisted: true } : message);
  }
  return messages;
}

/**
 * `s` with every lone UTF-16 surrogate replaced by U+FFFD. JSON.stringify escapes a lone surrogate as
 * `\ud800`, which Redis's cjson refuses to decode, so text is made well-formed before it reaches Redis.
 */
export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
