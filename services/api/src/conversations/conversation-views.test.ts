/**
 * Unread counts and pointers in `GET /api/conversations` and `GET /api/conversations/:id`, on a real
 * Redis and FerretDB. Pointers are moved with the same shared store the gateway uses.
 */
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { PointerStore } from "@parley/shared/messages/pointers";
import { receiptId } from "@parley/shared/models";
import type { Conversation, ConversationView } from "@parley/protocol";

import { useApi, type TestUser } from "../testing/api-harness.js";
import { toConversationView } from "./conversation-views.js";

const api = useApi("conversation-views");

const pointers = () =>
  new PointerStore({ redis: api.redis, keys: api.keys, cache: new ConversationCache(api.redis, api.keys, api.models) });

async function post(as: TestUser, conversationId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await api.request("POST", `/api/conversations/${conversationId}/messages`, {
      token: as.token,
      body: { clientMsgId: `m-${new Types.ObjectId().toHexString()}`, content: `message ${i}` },
    });
    expect(res.status).toBe(201);
  }
}

async function viewOf(as: TestUser, conversationId: string): Promise<ConversationView> {
  const res = await api.request("GET", "/api/conversations", { token: as.token });
  expect(res.status).toBe(200);
  const found = (res.body.conversations as ConversationView[]).find((c) => c.id === conversationId);
  if (!found) throw new Error(`conversation ${conversationId} not listed`);
  return found;
}

describe("toConversationView", () => {
  const conversation: Conversation = {
    id: "a".repeat(24),
    type: "group",
    name: "g",
    members: ["1".repeat(24), "2".repeat(24)],
    admins: ["1".repeat(24)],
    createdBy: "1".repeat(24),
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    lastSeq: 0,
    lastMessage: null,
  };
  const [me, other] = conversation.members as [string, string];

  it("counts the messages after the caller's read pointer and lists every current member's pointers", () => {
    const view = toConversationView(
      conversation,
      { seq: 9, read: { [me]: 4, ["3".repeat(24)]: 9 }, delivered: { [me]: 6, [other]: 9, ["3".repeat(24)]: 9 } },
      me,
    );
    expect(view).toEqual({
      ...conversation,
      unreadCount: 5,
      readPointers: { [me]: 4, [other]: 0 },
      deliveredPointers: { [me]: 6, [other]: 9 },
    });
  });

  it("never goes negative, and counts everything for a member who never read", () => {
    expect(toConversationView(conversation, { seq: 3, read: { [me]: 7 }, delivered: {} }, me).unreadCount).toBe(0);
    expect(toConversationView(conversation, { seq: 3, read: {}, delivered: {} }, other).unreadCount).toBe(3);
  });
});

describe("GET /api/conversations with receipts", () => {
  it("counts others' messages after the read pointer, never the caller's own, and lists members' pointers", async () => {
    const [a, b, c] = [await api.registerUser("a"), await api.registerUser("b"), await api.registerUser("c")];
    const group = await api.createGroup(a, [b, c]);
    await post(a, group.id, 3);

    expect(await viewOf(a, group.id)).toMatchObject({
      unreadCount: 0,
      readPointers: { [a.id]: 3, [b.id]: 0, [c.id]: 0 },
      deliveredPointers: { [a.id]: 3, [b.id]: 0, [c.id]: 0 },
    });
    expect((await viewOf(b, group.id)).unreadCount).toBe(3);

    await pointers().move(group.id, b.id, "delivered", 3);
    await pointers().move(group.id, b.id, "read", 2);
    expect(await viewOf(b, group.id)).toMatchObject({
      unreadCount: 1,
      readPointers: { [a.id]: 3, [b.id]: 2, [c.id]: 0 },
      deliveredPointers: { [a.id]: 3, [b.id]: 3, [c.id]: 0 },
    });

    // b answers: b's own message does not count for b, and counts once for a.
    await post(b, group.id, 1);
    expect((await viewOf(b, group.id)).unreadCount).toBe(0);
    expect((await viewOf(a, group.id)).unreadCount).toBe(1);
    expect((await viewOf(c, group.id)).unreadCount).toBe(4);
    await pointers().move(group.id, a.id, "read", 4);
    expect((await viewOf(a, group.id)).unreadCount).toBe(0);

    // A member who leaves takes their pointers out of the listing; the one route agrees with the list.
    await pointers().move(group.id, c.id, "read", 4);
    expect((await api.request("DELETE", `/api/conversations/${group.id}/members/${c.id}`, { token: a.token })).status).toBe(200);
    const one = await api.request("GET", `/api/conversations/${group.id}`, { token: a.token });
    expect(one.status).toBe(200);
    expect(one.body.conversation).toEqual(await viewOf(a, group.id));
    expect(one.body.conversation.readPointers).toEqual({ [a.id]: 4, [b.id]: 4 });
    expect(one.body.conversation.deliveredPointers).toEqual({ [a.id]: 4, [b.id]: 4 });
  });

  it("reads the whole listing in one Redis pipeline", async () => {
    const [a, b, c] = [await api.registerUser("a"), await api.registerUser("b"), await api.registerUser("c")];
    await api.createGroup(a, [b, c]);
    await api.createGroup(a, [b]);
    await api.request("POST", "/api/conversations", { token: a.token, body: { type: "direct", userId: c.id } });

    let pipelines = 0;
    const redis = new Proxy(api.redis, {
      get(target, prop) {
        if (prop === "pipeline") {
          return () => {
            pipelines++;
            return target.pipeline();
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const variant = await api.startVariant({ redis });
    const res = await api.request("GET", `${variant.baseUrl}/api/conversations`, { token: a.token });
    expect(res.status).toBe(200);
    expect(res.body.conversations).toHaveLength(3);
    expect(pipelines).toBe(1);
  });

  it("restores pointers from MongoDB when Redis lost the conversation, and keeps newest activity first", async () => {
    const [a, b] = [await api.registerUser("a"), await api.registerUser("b")];
    const older = await api.createGroup(a, [b], "older");
    const newer = await api.createGroup(a, [b], "newer");
    await post(a, newer.id, 5);

    // What the worker would have stored by now, and then Redis loses both conversations.
    const oid = (id: string) => new Types.ObjectId(id);
    await api.models.Conversation.updateOne({ _id: oid(newer.id) }, { $set: { lastSeq: 5, updatedAt: new Date(Date.now() + 60_000) } });
    await api.models.Receipt.create([
      { _id: receiptId(newer.id, a.id), conversationId: oid(newer.id), userId: oid(a.id), read: 5, delivered: 5 },
      { _id: receiptId(newer.id, b.id), conversationId: oid(newer.id), userId: oid(b.id), read: 3, delivered: 4 },
    ]);
    for (const id of [older.id, newer.id]) {
      const k = api.keys;
      await api.redis.del(k.conversationSeq(id), k.conversationMembersVersion(id), k.conversationMembers(id), k.conversationRead(id), k.conversationDelivered(id));
    }

    const res = await api.request("GET", "/api/conversations", { token: b.token });
    expect(res.status).toBe(200);
    const listed = res.body.conversations as ConversationView[];
    expect(listed.map((x) => x.id).slice(0, 2)).toEqual([newer.id, older.id]);
    expect(listed[0]).toMatchObject({
      unreadCount: 2,
      readPointers: { [a.id]: 5, [b.id]: 3 },
      deliveredPointers: { [a.id]: 5, [b.id]: 4 },
    });
    expect(listed[1]).toMatchObject({ unreadCount: 0, readPointers: { [a.id]: 0, [b.id]: 0 } });
    // Restored into Redis, so that pointers keep moving forward from there.
    expect(await pointers().move(newer.id, b.id, "read", 1)).toMatchObject({ seq: 3, moved: [] });
  });
});
