import mongoose, { Types, type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { conversationToWire, createModels, messageToWire, type MessageDoc, type Models } from "@parley/shared/models";
import type { Message } from "@parley/protocol";

import { fakeMessage, seedGroupId } from "../../../../test/helpers/seed.js";
import { testMongoUrl } from "../../../../test/helpers/env.js";
import { MessageStore, SeqConflictError } from "./message-store.js";

let connection: Connection;
let models: Models;
const logged: Record<string, unknown>[] = [];
let store: MessageStore;

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl("worker-message-store"), { bufferCommands: false });
  await connection.asPromise();
  models = createModels(connection);
  await Promise.all([models.Message.init(), models.Conversation.init(), models.Receipt.init()]);
  const log = pino({ level: "debug" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  store = new MessageStore({ models, log });
});

afterAll(async () => {
  await connection?.dropDatabase();
  await connection?.close();
});


/** A conversation of its own, so that tests never share one. */
async function storedSeqs(conversationId: string): Promise<{ id: string; seq: number }[]> {
  const docs = await models.Message.find({ conversationId }).sort({ seq: 1 }).lean();
  return docs.map((d) => ({ id: d._id.toHexString(), seq: d.seq }));
}

async function conversationState(conversationId: string) {
  const doc = await models.Conversation.findById(conversationId).lean();
  return { lastSeq: doc?.lastSeq, lastMessageId: (doc?.lastMessage?._id as Types.ObjectId | undefined)?.toHexString() };
}

describe("MessageStore", () => {
  it("stores a batch across conversations and advances each conversation to its highest seq", async () => {
    const [a, b] = [await seedGroupId(models), await seedGroupId(models)];
    const batch = [fakeMessage(a, 2), fakeMessage(b, 1), fakeMessage(a, 1), fakeMessage(a, 3), fakeMessage(b, 2)];

    const outcomes = await store.write(batch);

    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await storedSeqs(a)).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect((await storedSeqs(b)).map((m) => m.seq)).toEqual([1, 2]);
    expect(await conversationState(a)).toEqual({ lastSeq: 3, lastMessageId: batch[3]!.id });
    expect(await conversationState(b)).toEqual({ lastSeq: 2, lastMessageId: batch[4]!.id });
    const stored = await models.Message.findById(batch[3]!.id).lean();
    expect(stored).toMatchObject({ seq: 3, content: "message 3", clientMsgId: batch[3]!.clientMsgId });
    expect(stored?.createdAt.toISOString()).toBe(batch[3]!.createdAt);
    // What the API will send: the stored last message reads back as the very message.
    const doc = await models.Conversation.findById(a).lean();
    expect(conversationToWire(doc!).lastMessage).toEqual(batch[3]);
  });

  it("stores one document when the same message is written twice", async () => {
    const conv = await seedGroupId(models);
    const first = fakeMessage(conv, 1);
    const second = fakeMessage(conv, 2);

    expect((await store.write([first, second])).every((o) => o.ok)).toBe(true);
    // Again, alone and mixed with a new message, and twice within one batch.
    const third = fakeMessage(conv, 3);
    expect((await store.write([first])).every((o) => o.ok)).toBe(true);
    expect((await store.write([second, third, third])).every((o) => o.ok)).toBe(true);

    expect(await storedSeqs(conv)).toEqual([
      { id: first.id, seq: 1 },
      { id: second.id, seq: 2 },
      { id: third.id, seq: 3 },
    ]);
    expect(await conversationState(conv)).toEqual({ lastSeq: 3, lastMessageId: third.id });
  });

  it("never moves lastSeq backwards", async () => {
    const conv = await seedGroupId(models);
    const five = fakeMessage(conv, 5);
    await store.write([five]);
    await store.write([fakeMessage(conv, 3)]);

    expect(await conversationState(conv)).toEqual({ lastSeq: 5, lastMessageId: five.id });
    expect((await storedSeqs(conv)).map((m) => m.seq)).toEqual([3, 5]);
  });

  it("fails only the messages whose seq holds another message, and stores the rest of the batch", async () => {
    const conv = await seedGroupId(models);
    const other = await seedGroupId(models);
    const taken2 = fakeMessage(conv, 2);
    const taken4 = fakeMessage(conv, 4);
    await store.write([taken2, taken4]);

    const batch = [
      fakeMessage(conv, 1),
      fakeMessage(conv, 2), // conflicts with taken2
      fakeMessage(other, 1),
      fakeMessage(conv, 3),
      fakeMessage(conv, 4), // conflicts with taken4
      fakeMessage(conv, 5),
    ];
    const outcomes = await store.write(batch);

    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true, false, true]);
    const conflict = outcomes[1]!;
    if (conflict.ok) throw new Error("unreachable");
    expect(conflict.error).toBeInstanceOf(SeqConflictError);
    expect(conflict.error).toMatchObject({ messageId: batch[1]!.id, existingId: taken2.id, conversationId: conv, seq: 2 });
    expect(outcomes[4]).toMatchObject({ ok: false, error: { messageId: batch[4]!.id, existingId: taken4.id } });

    expect(await storedSeqs(conv)).toEqual([
      { id: batch[0]!.id, seq: 1 },
      { id: taken2.id, seq: 2 },
      { id: batch[3]!.id, seq: 3 },
      { id: taken4.id, seq: 4 },
      { id: batch[5]!.id, seq: 5 },
    ]);
    expect((await storedSeqs(other)).map((m) => m.id)).toEqual([batch[2]!.id]);
    expect(await conversationState(conv)).toEqual({ lastSeq: 5, lastMessageId: batch[5]!.id });

    const errors = logged.filter((l) => l.level === 50 && l.messageId === batch[1]!.id);
    expect(errors).toEqual([expect.objectContaining({ existingId: taken2.id, conversationId: conv, seq: 2 })]);
  });

  it("stores the first of two messages sharing a seq within one batch and fails the other", async () => {
    const conv = await seedGroupId(models);
    const winner = fakeMessage(conv, 1);
    const loser = fakeMessage(conv, 1);
    const next = fakeMessage(conv, 2);
    const outcomes = await store.write([winner, loser, next]);

    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[1]).toMatchObject({ ok: false, error: { messageId: loser.id, existingId: winner.id } });
    expect((await storedSeqs(conv)).map((m) => m.id)).toEqual([winner.id, next.id]);
  });

  it("rejects the whole batch when MongoDB fails for another reason", async () => {
    const conv = await seedGroupId(models);
    const closed = mongoose.createConnection(testMongoUrl("worker-message-store-closed"), { bufferCommands: false });
    await closed.asPromise();
    const closedModels = createModels(closed);
    await closed.close();
    const broken = new MessageStore({ models: closedModels, log: pino({ level: "silent" }) });

    await expect(broken.write([fakeMessage(conv, 1)])).rejects.toThrow();
    expect(await storedSeqs(conv)).toEqual([]);
  });
});

describe("sender pointers", () => {
  it("marks the conversation read and delivered for each sender up to their latest stored message", async () => {
    const conv = await seedGroupId(models);
    const [a1, b1, a2] = [fakeMessage(conv, 1), fakeMessage(conv, 2), fakeMessage(conv, 3)];
    a2.senderId = a1.senderId;
    await store.write([a2, a1, b1]);
    const receipts = await models.Receipt.find({ conversationId: conv }).lean();
    const bySender = Object.fromEntries(receipts.map((r) => [r.userId.toHexString(), [r.read, r.delivered]]));
    expect(bySender).toEqual({ [a1.senderId]: [3, 3], [b1.senderId]: [2, 2] });
  });
});

describe("revisions", () => {
  const revision = (message: Message, rev: number, changes: Partial<Message>): Message => ({ ...message, ...changes, rev });

  async function storedState(id: string): Promise<Message | undefined> {
    const doc = await models.Message.findById(id).lean<MessageDoc>();
    return doc ? messageToWire(doc) : undefined;
  }

  it("keeps the highest rev whatever order the states arrive in, and however often", async () => {
    const conv = await seedGroupId(models);
    const sent = fakeMessage(conv, 1);
    const edited = revision(sent, 1, { content: "edited", editedAt: new Date().toISOString() });
    const reacted = revision(edited, 2, { reactions: { "👍": [sent.senderId] } });
    const deleted = revision(reacted, 3, { content: "", deletedAt: new Date().toISOString(), reactions: undefined });
    delete deleted.reactions;

    expect((await store.write([reacted])).every((o) => o.ok)).toBe(true);
    expect(await storedState(sent.id)).toEqual(reacted);
    await store.write([sent]);
    await store.write([edited, edited]);
    expect(await storedState(sent.id)).toEqual(reacted);

    await store.write([deleted, reacted]);
    expect(await storedState(sent.id)).toEqual(deleted);
    await store.write([sent, edited, reacted]);
    expect(await storedState(sent.id)).toEqual(deleted);
    expect(await storedSeqs(conv)).toEqual([{ id: sent.id, seq: 1 }]);
  });

  it("applies a newer state to a message stored as sent, clearing reactions that were removed", async () => {
    const conv = await seedGroupId(models);
    const sent = fakeMessage(conv, 1);
    await store.write([sent]);
    const reacted = revision(sent, 1, { reactions: { "🎉": [sent.senderId], "👀": [new Types.ObjectId().toHexString()] } });
    await store.write([reacted]);
    expect(await storedState(sent.id)).toEqual(reacted);
    const unreacted = revision(sent, 2, {});
    await store.write([unreacted]);
    expect(await storedState(sent.id)).toEqual(unreacted);
  });

  it("makes the conversation's last message follow its newest state, never an older one or an older message", async () => {
    const conv = await seedGroupId(models);
    const [one, two] = [fakeMessage(conv, 1), fakeMessage(conv, 2)];
    await store.write([one, two]);
    const lastMessage = async () => conversationToWire((await models.Conversation.findById(conv).lean())!).lastMessage;

    const twoEdited = revision(two, 2, { content: "edited twice", editedAt: new Date().toISOString() });
    await store.write([twoEdited]);
    expect(await lastMessage()).toEqual(twoEdited);
    await store.write([revision(two, 1, { content: "edited once" })]);
    expect(await lastMessage()).toEqual(twoEdited);
    // A change to an earlier message leaves the last one alone.
    await store.write([revision(one, 1, { content: "one edited" })]);
    expect(await lastMessage()).toEqual(twoEdited);

    // A message first stored through a revision job (its rev-0 job not processed yet) still advances it.
    const three = fakeMessage(conv, 3);
    const threeDeleted = revision(three, 1, { content: "", deletedAt: new Date().toISOString() });
    await store.write([threeDeleted]);
    expect(await lastMessage()).toEqual(threeDeleted);
    await store.write([three]);
    expect(await lastMessage()).toEqual(threeDeleted);
    expect(await storedState(three.id)).toEqual(threeDeleted);
    expect((await models.Conversation.findById(conv).lean())?.lastSeq).toBe(3);
  });
});
