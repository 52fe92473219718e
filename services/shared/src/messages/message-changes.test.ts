/**
 * The message reader, the change scripts and reply checks on a real Redis and FerretDB, without a
 * gateway: the Lua and the merge of stream, overlay and MongoDB, case by case.
 */
import mongoose, { Types, type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { createModels, messageToDoc, type Models } from "../models/index.js";
import { createPersistQueue, messageJobId, type PersistQueue } from "../queues.js";
import { createRedis, type RedisClient } from "../redis.js";
import { redisKeys, type RedisKeys } from "../redis-keys.js";
import { MAX_REACTIONS_PER_MESSAGE, type Message } from "@parley/protocol";
import { ConversationCache } from "./conversation-cache.js";
import { MessageChanges, type MessageChange } from "./message-changes.js";
import { MessagePipeline } from "./message-pipeline.js";
import { wellFormed } from "./message-reader.js";
import { StoredMarks } from "./stored-marks.js";

const redisServer = useRedisServer("message-changes");
const log = pino({ level: "silent" });
let connection: Connection;
let models: Models;
let redis: RedisClient;
let keys: RedisKeys;
let queue: PersistQueue;
let pipeline: MessagePipeline;
let changes: MessageChanges;
const published: MessageChange[] = [];

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl("shared-message-changes"), { bufferCommands: false });
  await connection.asPromise();
  models = createModels(connection);
  await Promise.all(Object.values(models).map((model) => model.init()));
  redis = createRedis(redisServer.url, { name: "test", log });
  keys = redisKeys(`t${uniqueSuffix()}`);
  queue = createPersistQueue(redis, `{t${uniqueSuffix()}}`);
  const cache = new ConversationCache(redis, keys, models);
  pipeline = new MessagePipeline({ redis, keys, cache, queue, log, deliver: () => {} });
  changes = new MessageChanges({
    redis,
    keys,
    cache,
    reader: pipeline.reader,
    queue,
    log,
    publish: (change) => published.push(change),
  });
});

afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await connection?.dropDatabase();
  await connection?.close();
});

const oid = () => new Types.ObjectId().toHexString();

/** A conversation of `members` in MongoDB, with nothing cached yet. */
async function conversation(members: string[]): Promise<string> {
  const _id = new Types.ObjectId();
  const ids = members.map((m) => new Types.ObjectId(m));
  await models.Conversation.create({ _id, type: "group", name: "g", key: `g:${_id.toHexString()}`, members: ids, admins: ids.slice(0, 1), createdBy: ids[0] });
  return _id.toHexString();
}

async function sendMany(conversationId: string, senderId: string, count: number, from = 1): Promise<Message[]> {
  const sent: Message[] = [];
  for (let i = from; i < from + count; i++) {
    sent.push((await pipeline.send(senderId, { conversationId, clientMsgId: `c${i}`, content: `message ${i}`, type: "text" })).message);
  }
  return sent;
}

/** What the worker would have done: store these states in MongoDB. */
async function store(messages: Message[]): Promise<void> {
  await models.Message.insertMany(messages.map(messageToDoc));
}

describe("MessageReader", () => {
  it("pages forward through the stream with hasMore, and reports the last seq and the epoch", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 25);

    const first = await pipeline.reader.after(conv, 0, 10);
    expect(first.messages).toEqual(sent.slice(0, 10));
    expect(first).toMatchObject({ hasMore: true, lastSeq: 25, epoch: { id: expect.any(String), base: 0 } });
    const last = await pipeline.reader.after(conv, 20, 10);
    expect(last.messages).toEqual(sent.slice(20));
    expect(last.hasMore).toBe(false);
    expect(last.epoch).toEqual(first.epoch);
    expect((await pipeline.reader.after(conv, 25, 10)).messages).toEqual([]);
  });

  it("reads what the stream dropped from MongoDB, and each message in its newest state from the overlay", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 20);
    await store(sent.slice(0, 15));
    await redis.xtrim(keys.conversationStream(conv), "MAXLEN", 5);
    // One change to a message only MongoDB holds now, one to a message still in the stream.
    const old = (await changes.edit(alice, { conversationId: conv, messageId: sent[2]!.id, content: "edited 3" })).message;
    const recent = (await changes.react(alice, { conversationId: conv, messageId: sent[17]!.id, emoji: "👍" })).message;

    // The first 15 come from MongoDB, so they say they are stored; the stream's 5 were never marked.
    const expected = sent
      .map((m) => (m.id === old.id ? old : m.id === recent.id ? recent : m))
      .map((m) => (m.seq <= 15 ? { ...m, persisted: true as const } : m));
    const all = await pipeline.reader.after(conv, 0, 100);
    expect(all.messages).toEqual(expected);
    expect(all.hasMore).toBe(false);
    const page = await pipeline.reader.after(conv, 1, 3);
    expect(page.messages).toEqual(expected.slice(1, 4));
    expect(page.hasMore).toBe(true);

    const newest = await pipeline.reader.before(conv, undefined, 8);
    expect(newest).toEqual({ messages: expected.slice(12), hasOlder: true });
    const older = await pipeline.reader.before(conv, 13, 50);
    expect(older).toEqual({ messages: expected.slice(0, 12), hasOlder: false });
  });

  it("gives stored messages of any conversations their newest state from the overlays, in the order given", async () => {
    const alice = oid();
    const [one, two] = [await conversation([alice]), await conversation([alice])];
    const sent = [...(await sendMany(one, alice, 3)), ...(await sendMany(two, alice, 2))];
    await store(sent);
    const edited = (await changes.edit(alice, { conversationId: one, messageId: sent[1]!.id, content: "edited" })).message;
    const deleted = (await changes.delete(alice, { conversationId: two, messageId: sent[4]!.id })).message;

    const stored = [sent[4]!, sent[0]!, sent[3]!, sent[1]!];
    expect(await pipeline.reader.latest(stored)).toEqual([deleted, sent[0], sent[3], edited]);
    expect(await pipeline.reader.latest([])).toEqual([]);
  });

  it("skips a seq nothing holds instead of inventing it", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 12);
    await store([...sent.slice(0, 3), ...sent.slice(4, 8)]);
    await redis.xtrim(keys.conversationStream(conv), "MAXLEN", 4);

    const read = await pipeline.reader.after(conv, 0, 100);
    expect(read.messages.map((m) => m.seq)).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(read.lastSeq).toBe(12);
  });

  it("restores the seq counter and starts a new epoch when Redis lost the conversation", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 6);
    const before = await pipeline.reader.after(conv, 0, 1);
    await store(sent.slice(0, 4));
    await models.Conversation.updateOne({ _id: conv }, { $set: { lastSeq: 4 } });
    const lost = (await redis.keys(`${keys.conversationSeq(conv).replace(/:seq$/, "")}:*`)).filter((k) => !k.includes("cmid"));
    await redis.del(...lost);

    const after = await pipeline.reader.after(conv, 0, 100);
    expect(after.epoch).toEqual({ id: expect.any(String), base: 4 });
    expect(after.epoch.id).not.toBe(before.epoch.id);
    expect(after.lastSeq).toBe(4);
    expect(after.messages).toEqual(sent.slice(0, 4).map((m) => ({ ...m, persisted: true })));
  });

  it("says which of the stream's messages the worker marked stored, in sync and history reads alike", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 6);
    const marks = new StoredMarks(redis, keys, 60);
    // Stored out of order, as concurrent batches may be; seq 3 not yet.
    await marks.mark([sent[4]!, sent[0]!, sent[1]!]);
    const flags = (messages: readonly Message[]) => messages.map((m) => m.persisted ?? false);
    expect(flags((await pipeline.reader.after(conv, 0, 100)).messages)).toEqual([true, true, false, false, true, false]);
    expect(flags((await pipeline.reader.before(conv, 6, 3)).messages)).toEqual([false, false, true]);
    // By id: another message at a marked seq (a seq reused after Redis lost the conversation) is not.
    await marks.mark([{ ...sent[2]!, id: oid() }]);
    expect(flags((await pipeline.reader.after(conv, 2, 1)).messages)).toEqual([false]);
    expect(await redis.zscore(keys.conversationStored(conv), sent[2]!.id)).toBeNull();
    expect(await redis.ttl(keys.conversationStored(conv))).toBeGreaterThan(0);
  });
});

describe("MessageChanges", () => {
  it("edits, reacts (toggling) and deletes, raising rev, delivering and queueing each state", async () => {
    const [alice, bob] = [oid(), oid()];
    const conv = await conversation([alice, bob]);
    const [message] = await sendMany(conv, alice, 1);
    const ref = { conversationId: conv, messageId: message!.id };
    published.length = 0;

    const edited = await changes.edit(alice, { ...ref, content: "better" });
    expect(edited).toEqual({ changed: true, message: { ...message, content: "better", rev: 1, editedAt: expect.any(String) } });
    const same = await changes.edit(alice, { ...ref, content: "better" });
    expect(same).toEqual({ changed: false, message: edited.message });

    const up = await changes.react(bob, { ...ref, emoji: "👍" });
    const up2 = await changes.react(alice, { ...ref, emoji: "👍" });
    const party = await changes.react(bob, { ...ref, emoji: "🎉" });
    const down = await changes.react(bob, { ...ref, emoji: "👍" });
    expect([up.added, up2.added, party.added, down.added]).toEqual([true, true, true, false]);
    expect(down.message).toMatchObject({ rev: 5, reactions: { "👍": [alice], "🎉": [bob] } });
    const undo = await changes.react(bob, { ...ref, emoji: "🎉" });
    expect(undo.message.reactions).toEqual({ "👍": [alice] });

    const deleted = await changes.delete(alice, ref);
    expect(deleted.message).toEqual({
      ...message,
      content: "",
      rev: 7,
      editedAt: edited.message.editedAt,
      deletedAt: expect.any(String),
    });
    expect((await changes.delete(alice, ref)).changed).toBe(false);

    expect(published.map((c) => c.type)).toEqual(["updated", "reaction", "reaction", "reaction", "reaction", "reaction", "deleted"]);
    expect(published[4]).toMatchObject({ reaction: { messageId: message!.id, conversationId: conv, userId: bob, emoji: "👍", added: false } });
    for (const rev of [1, 2, 3, 4, 5, 6, 7]) {
      expect((await queue.getJob(messageJobId({ id: message!.id, rev })))?.data).toMatchObject({ id: message!.id, rev });
    }
    expect((await pipeline.reader.after(conv, 0, 10)).messages).toEqual([deleted.message]);
  });

  it("enforces the rules", async () => {
    const [alice, bob, mallory] = [oid(), oid(), oid()];
    const conv = await conversation([alice, bob]);
    const [message] = await sendMany(conv, alice, 1);
    const ref = { conversationId: conv, messageId: message!.id };

    await expect(changes.edit(bob, { ...ref, content: "mine now" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(changes.delete(bob, ref)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(changes.react(mallory, { ...ref, emoji: "👍" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(changes.edit(alice, { conversationId: conv, messageId: oid(), content: "x" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(changes.edit(alice, { messageId: message!.id, content: "x" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const other = await conversation([alice]);
    await expect(changes.edit(alice, { conversationId: other, messageId: message!.id, content: "x" })).rejects.toMatchObject({ code: "NOT_FOUND" });

    await changes.delete(alice, ref);
    await expect(changes.edit(alice, { ...ref, content: "revive" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(changes.react(bob, { ...ref, emoji: "👍" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("erases a sender's message whether or not they are still a member, once, like a delete", async () => {
    const [alice, bob] = [oid(), oid()];
    const conv = await conversation([alice, bob]);
    const [old, recent, bobs] = [...(await sendMany(conv, alice, 2)), ...(await sendMany(conv, bob, 1, 3))];
    // The older message only in MongoDB, and alice no longer a member.
    await store([old!]);
    await redis.xtrim(keys.conversationStream(conv), "MINID", 2);
    await models.Conversation.updateOne({ _id: conv }, { $pull: { members: new Types.ObjectId(alice) }, $inc: { membersVersion: 1 } });
    await new ConversationCache(redis, keys, models).load(conv);
    await expect(changes.delete(alice, { conversationId: conv, messageId: recent!.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    published.length = 0;

    for (const message of [recent!, old!]) {
      const erased = await changes.erase(alice, { conversationId: conv, messageId: message.id });
      expect(erased).toEqual({ changed: true, message: { ...message, content: "", rev: 1, deletedAt: expect.any(String) } });
      expect((await queue.getJob(messageJobId(erased.message)))?.data).toEqual(erased.message);
      expect(await changes.erase(alice, { conversationId: conv, messageId: message.id })).toEqual({ changed: false, message: erased.message });
    }
    expect(published.map((c) => [c.type, c.message.id])).toEqual([
      ["deleted", recent!.id],
      ["deleted", old!.id],
    ]);
    await expect(changes.erase(alice, { conversationId: conv, messageId: bobs!.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(changes.erase(alice, { conversationId: conv, messageId: oid() })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await pipeline.reader.after(conv, 0, 10)).messages.map((m) => [m.id, m.content])).toEqual([
      [old!.id, ""],
      [recent!.id, ""],
      [bobs!.id, bobs!.content],
    ]);
  });

  it(`allows at most ${MAX_REACTIONS_PER_MESSAGE} distinct emoji, but more users on one`, async () => {
    const [alice, bob] = [oid(), oid()];
    const conv = await conversation([alice, bob]);
    const [message] = await sendMany(conv, alice, 1);
    const ref = { conversationId: conv, messageId: message!.id };
    const emoji = Array.from({ length: MAX_REACTIONS_PER_MESSAGE + 1 }, (_, i) => String.fromCodePoint(0x1f600 + i));
    for (const e of emoji.slice(0, -1)) await changes.react(alice, { ...ref, emoji: e });

    await expect(changes.react(alice, { ...ref, emoji: emoji.at(-1)! })).rejects.toMatchObject({ code: "VALIDATION" });
    const more = await changes.react(bob, { ...ref, emoji: emoji[0]! });
    expect(more.message.reactions?.[emoji[0]!]).toEqual([alice, bob]);
    expect(Object.keys(more.message.reactions ?? {}).sort()).toEqual(emoji.slice(0, -1).sort());
  });

  it("changes a message that only MongoDB holds, found with or without its conversation", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const sent = await sendMany(conv, alice, 3);
    await store(sent);
    await redis.del(keys.conversationStream(conv));

    const edited = await changes.edit(alice, { conversationId: conv, messageId: sent[0]!.id, content: "from MongoDB" });
    expect(edited.message).toMatchObject({ id: sent[0]!.id, seq: 1, content: "from MongoDB", rev: 1 });
    const reacted = await changes.react(alice, { messageId: sent[1]!.id, emoji: "👀" });
    expect(reacted.message).toMatchObject({ id: sent[1]!.id, rev: 1, reactions: { "👀": [alice] } });
    // The overlay now holds the newest states: a second change builds on them, not on MongoDB's.
    const again = await changes.edit(alice, { messageId: sent[0]!.id, content: "twice" });
    expect(again.message).toMatchObject({ content: "twice", rev: 2 });
    expect((await pipeline.reader.after(conv, 0, 10)).messages.map((m) => [m.content, m.rev])).toEqual([
      ["twice", 2],
      ["message 2", 1],
      ["message 3", undefined],
    ]);
  });

  it("keeps any text intact through the script's JSON", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const [message] = await sendMany(conv, alice, 1);
    const content = 'quotes "x" \\ slash / tab\t newline\n emoji 👩‍👩‍👧 ümlaut \u2028 "id":"' + message!.id + '"';
    const edited = await changes.edit(alice, { conversationId: conv, messageId: message!.id, content });
    expect(edited.message.content).toBe(content);
    expect((await pipeline.reader.after(conv, 0, 1)).messages[0]!.content).toBe(content);
    expect(wellFormed("a\ud800b\udc00c\ud83d\ude00")).toBe("a\ufffdb\ufffdc\ud83d\ude00");
  });
});

describe("replies", () => {
  it("accept a message of the same conversation, in Redis or only in MongoDB, and refuse anything else", async () => {
    const alice = oid();
    const conv = await conversation([alice]);
    const other = await conversation([alice]);
    const [first, second] = await sendMany(conv, alice, 2);
    const [elsewhere] = await sendMany(other, alice, 1);
    const reply = (clientMsgId: string, replyToId: string) =>
      pipeline.send(alice, { conversationId: conv, clientMsgId, content: "re", type: "text", replyToId });

    expect((await reply("r1", second!.id)).message).toMatchObject({ seq: 3, replyToId: second!.id });
    await expect(reply("r2", elsewhere!.id)).rejects.toMatchObject({ code: "VALIDATION", issues: [{ path: "replyToId" }] });
    await expect(reply("r3", oid())).rejects.toMatchObject({ code: "VALIDATION" });

    await store([first!]);
    await redis.del(keys.conversationStream(conv));
    expect((await reply("r4", first!.id)).message).toMatchObject({ seq: 4, replyToId: first!.id });
    // Only r4's replyToId names `first` in Redis now, which must not pass for `first` itself.
    await models.Message.deleteOne({ _id: first!.id });
    await expect(reply("r5", first!.id)).rejects.toMatchObject({ code: "VALIDATION" });
  });
});
