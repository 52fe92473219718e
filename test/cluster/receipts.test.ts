/**
 * Delivered and read receipts and unread counts on a real cluster: nginx in front of two gateway
 * processes, the API and the worker, on a private Redis and a database of this file's own. Members sit
 * on different gateways; every client connects through nginx.
 */
import { Redis } from "ioredis";
import { Types, type Connection } from "mongoose";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import type { ConversationView, Message, MessagePersisted, PointerMoved } from "@parley/protocol";
import type { Models } from "@parley/shared/models";

import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";
import { openModels } from "../helpers/in-process-gateway.js";

const fixture = useCluster("receipts");

let mongo: { connection: Connection; models: Models } | undefined;
async function models(): Promise<Models> {
  mongo ??= await openModels(fixture.cluster.mongoUrl);
  return mongo.models;
}

afterEach(() => closeAllClients());
afterAll(async () => {
  await mongo?.connection.close();
});

type PointerEvent = "conversation:delivered" | "conversation:read";

function mark(socket: ClientSocket, event: PointerEvent, conversationId: string, seq: number) {
  return socket.timeout(5_000).emitWithAck(event, { conversationId, seq });
}

async function send(socket: ClientSocket, conversationId: string, content: string): Promise<Message> {
  const ack = await socket.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content });
  if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
  return ack.message;
}

/** Alice and Bob in a direct conversation, connected through nginx to different gateways. */
async function pair() {
  const { api, cluster } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const conversation = await api.direct(alice.token, bob.id);
  const a = await connectClient(cluster.url, alice.token);
  const b = await connectClient(cluster.url, bob.token);
  expect(a.session.node).not.toBe(b.session.node);
  return { alice, bob, conversationId: conversation.id, a: a.socket, b: b.socket };
}

async function viewOf(user: RegisteredUser, conversationId: string): Promise<ConversationView> {
  const res = await fixture.api.request<{ conversations: ConversationView[] }>("GET", "/api/conversations", { token: user.token });
  expect(res.status).toBe(200);
  const view = res.body.conversations.find((c) => c.id === conversationId);
  if (!view) throw new Error(`conversation ${conversationId} not listed`);
  return view;
}

async function storedReceipt(conversationId: string, userId: string) {
  const doc = await (await models()).Receipt.findOne({ conversationId: new Types.ObjectId(conversationId), userId: new Types.ObjectId(userId) }).lean();
  return doc ? { read: doc.read, delivered: doc.delivered } : undefined;
}

describe("pointers across two gateways", () => {
  it("reach the other member on the other node, never move backwards nor past the last seq, and are persisted", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    // The documented client behaviour: acknowledge delivery of every message:new.
    b.on("message:new", (message) => {
      void mark(b, "conversation:delivered", message.conversationId, message.seq);
    });
    const deliveredAtAlice = collect<PointerMoved>(a, "conversation:delivered");
    const readAtAlice = collect<PointerMoved>(a, "conversation:read");

    for (const content of ["one", "two", "three"]) await send(a, conversationId, content);
    await eventually(() => deliveredAtAlice.at(-1)?.seq === 3, 5_000, "delivered up to 3");
    expect(deliveredAtAlice.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(deliveredAtAlice[0]).toEqual({ conversationId, userId: bob.id, seq: 1, at: expect.any(String) });

    const read2 = nextEvent<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 2)).toEqual({ ok: true, seq: 2 });
    expect(await read2).toMatchObject({ conversationId, userId: bob.id, seq: 2 });

    // Backwards: the ack says where the pointer is, and nobody hears of it.
    expect(await mark(b, "conversation:read", conversationId, 1)).toEqual({ ok: true, seq: 2 });
    expect(await mark(b, "conversation:delivered", conversationId, 2)).toEqual({ ok: true, seq: 3 });
    // Past the last seq: clamped to 3.
    const read3 = nextEvent<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 500)).toEqual({ ok: true, seq: 3 });
    expect((await read3).seq).toBe(3);
    expect(readAtAlice.map((e) => e.seq)).toEqual([2, 3]);
    expect(deliveredAtAlice.map((e) => e.seq)).toEqual([1, 2, 3]);

    // Read implies delivered: a fresh message read straight away moves both, delivered announced first.
    b.removeAllListeners("message:new");
    const order: string[] = [];
    a.on("conversation:delivered", (e) => order.push(`delivered:${e.seq}`));
    a.on("conversation:read", (e) => order.push(`read:${e.seq}`));
    const read4 = nextEvent<PointerMoved>(a, "conversation:read");
    await send(a, conversationId, "four");
    expect(await mark(b, "conversation:read", conversationId, 4)).toEqual({ ok: true, seq: 4 });
    await read4;
    expect(order).toEqual(["delivered:4", "read:4"]);

    // The worker stores both members' pointers: Bob's moves, and Alice's own by sending.
    await eventually(async () => (await storedReceipt(conversationId, bob.id))?.read === 4 && true, 15_000, "Bob's receipt stored");
    expect(await storedReceipt(conversationId, bob.id)).toEqual({ read: 4, delivered: 4 });
    await eventually(async () => (await storedReceipt(conversationId, alice.id))?.read === 4 && true, 15_000, "Alice's receipt stored");
    expect(await storedReceipt(conversationId, alice.id)).toEqual({ read: 4, delivered: 4 });
  });

  it("refuses a non-member with FORBIDDEN and tells nobody", async () => {
    const { bob, conversationId, a, b } = await pair();
    await send(a, conversationId, "private");
    const mallory = await fixture.api.register("mallory");
    const m = (await connectClient(fixture.cluster.url, mallory.token)).socket;
    const seen = collect<PointerMoved>(a, "conversation:read");

    expect(await mark(m, "conversation:read", conversationId, 1)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await mark(m, "conversation:delivered", conversationId, 1)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const marker = nextEvent<PointerMoved>(a, "conversation:read");
    await mark(b, "conversation:read", conversationId, 1);
    const moved = await marker;
    expect(moved.userId).toBe(bob.id);
    expect(seen).toEqual([moved]);
  });
});

describe("unreadCount in GET /api/conversations", () => {
  it("counts others' messages after the read pointer, 0 after reading, never the caller's own, with every member's pointers", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    for (const content of ["one", "two", "three"]) await send(a, conversationId, content);

    expect(await viewOf(bob, conversationId)).toMatchObject({
      unreadCount: 3,
      readPointers: { [alice.id]: 3, [bob.id]: 0 },
      deliveredPointers: { [alice.id]: 3, [bob.id]: 0 },
    });
    expect((await viewOf(alice, conversationId)).unreadCount).toBe(0);

    await mark(b, "conversation:delivered", conversationId, 3);
    await mark(b, "conversation:read", conversationId, 1);
    expect(await viewOf(bob, conversationId)).toMatchObject({
      unreadCount: 2,
      readPointers: { [alice.id]: 3, [bob.id]: 1 },
      deliveredPointers: { [alice.id]: 3, [bob.id]: 3 },
    });

    await mark(b, "conversation:read", conversationId, 3);
    expect((await viewOf(bob, conversationId)).unreadCount).toBe(0);

    // Bob's reply: unread for Alice, never for Bob; the single-conversation route says the same.
    await send(b, conversationId, "reply");
    expect((await viewOf(bob, conversationId)).unreadCount).toBe(0);
    const forAlice = await viewOf(alice, conversationId);
    expect(forAlice).toMatchObject({ unreadCount: 1, readPointers: { [alice.id]: 3, [bob.id]: 4 } });
    const one = await fixture.api.request<{ conversation: ConversationView }>("GET", `/api/conversations/${conversationId}`, { token: alice.token });
    const { unreadCount, readPointers, deliveredPointers } = forAlice;
    // Only the receipt fields: the worker may store the reply (lastMessage) between the two requests.
    expect(one.body.conversation).toMatchObject({ id: conversationId, unreadCount, readPointers, deliveredPointers });
  });
});

describe("after the cluster's Redis is flushed", () => {
  it("brings the pointers back from MongoDB, and they do not move backwards", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    const persisted = collect<MessagePersisted>(a, "message:persisted");
    for (const content of ["one", "two", "three", "four", "five"]) await send(a, conversationId, content);
    await mark(b, "conversation:delivered", conversationId, 5);
    await mark(b, "conversation:read", conversationId, 4);
    await eventually(() => persisted.length === 5, 15_000, "messages persisted");
    await eventually(async () => (await storedReceipt(conversationId, bob.id))?.read === 4 && true, 15_000, "Bob's receipt stored");
    await eventually(async () => (await storedReceipt(conversationId, alice.id))?.read === 5 && true, 15_000, "Alice's receipt stored");

    const redisUrl = fixture.cluster.redisUrl;
    // The private redis-server of this file only: never the shared one.
    expect(new URL(redisUrl).port).not.toBe("6379");
    const redis = new Redis(redisUrl);
    try {
      await redis.flushall();
    } finally {
      redis.disconnect();
    }

    expect(await viewOf(bob, conversationId)).toMatchObject({
      unreadCount: 1,
      readPointers: { [alice.id]: 5, [bob.id]: 4 },
      deliveredPointers: { [alice.id]: 5, [bob.id]: 5 },
    });
    expect(await mark(b, "conversation:read", conversationId, 2)).toEqual({ ok: true, seq: 4 });
    expect(await mark(b, "conversation:delivered", conversationId, 3)).toEqual({ ok: true, seq: 5 });

    // And they keep moving forward, through a gateway and the worker, from there.
    const read = nextEvent<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 5)).toEqual({ ok: true, seq: 5 });
    expect((await read).seq).toBe(5);
    await eventually(async () => (await storedReceipt(conversationId, bob.id))?.read === 5 && true, 15_000, "Bob's receipt stored");
    expect((await viewOf(bob, conversationId)).unreadCount).toBe(0);
  });
});
