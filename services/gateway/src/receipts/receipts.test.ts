/**
 * `conversation:delivered` and `conversation:read` on two gateways in this process, on one real Redis
 * and FerretDB: the pointer rules of the script, the events across nodes, and the persist jobs.
 */
import { Types, type Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { PointerMoved } from "@parley/protocol";
import { receiptId, type Models } from "@parley/shared/models";
import { pointerJobId } from "@parley/shared/queues";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, connectClient, type ClientSocket } from "../../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../../test/helpers/env.js";
import { collect, nextEvent } from "../../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedConversation, seedUser, type SeededUser } from "../../../../test/helpers/seed.js";

const redis = useRedisServer("receipts");
const keys = redisKeys("parley");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("receipts")));
  nodes = [await startGatewayNode("node-a", redis.url, models), await startGatewayNode("node-b", redis.url, models)];
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

type PointerEvent = "conversation:delivered" | "conversation:read";

function mark(socket: ClientSocket, event: PointerEvent, conversationId: string, seq: number) {
  return socket.timeout(5_000).emitWithAck(event, { conversationId, seq });
}

async function send(socket: ClientSocket, conversationId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const ack = await socket.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content: `m${i}` });
    if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
  }
}

/** Alice on node a, Bob on node b (and Bob's second device on node a), in a direct conversation with `messages` from Alice. */
async function pair(messages: number) {
  const alice = await seedUser(models, "alice");
  const bob = await seedUser(models, "bob");
  const conversationId = await seedConversation(models, [alice, bob]);
  const a = (await connectClient(nodes[0]!.url, alice.token)).socket;
  const b = (await connectClient(nodes[1]!.url, bob.token)).socket;
  const bobOther = (await connectClient(nodes[0]!.url, bob.token)).socket;
  await send(a, conversationId, messages);
  return { alice, bob, conversationId, a, b, bobOther };
}

const pointersOf = async (conversationId: string, user: SeededUser) => {
  const [read, delivered] = await Promise.all([
    nodes[0]!.redis.hget(keys.conversationRead(conversationId), user.id),
    nodes[0]!.redis.hget(keys.conversationDelivered(conversationId), user.id),
  ]);
  return { read: Number(read ?? 0), delivered: Number(delivered ?? 0) };
};

describe("conversation:delivered and conversation:read across two nodes", () => {
  it("moves the pointer, tells the other members and the caller's other devices, and queues the move", async () => {
    const { bob, conversationId, a, b, bobOther } = await pair(3);
    const atBob = collect<PointerMoved>(b, "conversation:delivered");
    const atAlice = nextEvent<PointerMoved>(a, "conversation:delivered");
    const atBobOther = nextEvent<PointerMoved>(bobOther, "conversation:delivered");

    expect(await mark(b, "conversation:delivered", conversationId, 2)).toEqual({ ok: true, seq: 2 });
    const moved = await atAlice;
    expect(moved).toEqual({ conversationId, userId: bob.id, seq: 2, at: expect.any(String) });
    expect(new Date(moved.at).toISOString()).toBe(moved.at);
    expect(await atBobOther).toEqual(moved);
    expect(await pointersOf(conversationId, bob)).toEqual({ read: 0, delivered: 2 });

    const job = await nodes[1]!.queue.getJob(pointerJobId({ conversationId, userId: bob.id, kind: "delivered", seq: 2, at: moved.at }));
    expect(job?.name).toBe("pointer");
    expect(job?.data).toEqual({ conversationId, userId: bob.id, kind: "delivered", seq: 2, at: moved.at });
    // The calling socket has its ack instead: the event that follows proves nothing was sent to it before.
    const marker = nextEvent<PointerMoved>(b, "conversation:delivered");
    await mark(bobOther, "conversation:delivered", conversationId, 3);
    expect((await marker).seq).toBe(3);
    expect(atBob.map((e) => e.seq)).toEqual([3]);
  });

  it("never moves backwards: a lower or equal seq acks the current value and emits nothing", async () => {
    const { bob, conversationId, a, b } = await pair(5);
    const first = nextEvent<PointerMoved>(a, "conversation:read");
    await mark(b, "conversation:read", conversationId, 4);
    await first;
    const seenDelivered = collect<PointerMoved>(a, "conversation:delivered");
    const seenRead = collect<PointerMoved>(a, "conversation:read");

    expect(await mark(b, "conversation:read", conversationId, 2)).toEqual({ ok: true, seq: 4 });
    expect(await mark(b, "conversation:read", conversationId, 4)).toEqual({ ok: true, seq: 4 });
    expect(await mark(b, "conversation:delivered", conversationId, 3)).toEqual({ ok: true, seq: 4 });
    expect(await mark(b, "conversation:delivered", conversationId, 0)).toEqual({ ok: true, seq: 4 });
    expect(await pointersOf(conversationId, bob)).toEqual({ read: 4, delivered: 4 });

    const marker = nextEvent<PointerMoved>(a, "conversation:delivered");
    expect(await mark(b, "conversation:delivered", conversationId, 5)).toEqual({ ok: true, seq: 5 });
    await marker;
    expect(seenDelivered.map((e) => e.seq)).toEqual([5]);
    expect(seenRead).toEqual([]);
  });

  it("never moves past the last seq, and a read moves delivered too (delivered announced first)", async () => {
    const { bob, conversationId, a, b } = await pair(3);
    const order: string[] = [];
    a.on("conversation:delivered", (e) => order.push(`delivered:${e.seq}`));
    a.on("conversation:read", (e) => order.push(`read:${e.seq}`));
    const read = nextEvent<PointerMoved>(a, "conversation:read");

    expect(await mark(b, "conversation:read", conversationId, 1_000_000)).toEqual({ ok: true, seq: 3 });
    expect(await read).toMatchObject({ conversationId, userId: bob.id, seq: 3 });
    expect(order).toEqual(["delivered:3", "read:3"]);
    expect(await pointersOf(conversationId, bob)).toEqual({ read: 3, delivered: 3 });

    // One job for both: the worker stores a read as delivered up to the same seq.
    const jobs = (await nodes[0]!.queue.getJobs(["waiting", "prioritized", "delayed"]))
      .filter((j) => j.name === "pointer" && (j.data as { conversationId: string }).conversationId === conversationId);
    expect(jobs.map((j) => j.data)).toEqual([{ conversationId, userId: bob.id, kind: "read", seq: 3, at: expect.any(String) }]);

    // The next message makes room for one more.
    await send(a, conversationId, 1);
    expect(await mark(b, "conversation:delivered", conversationId, 99)).toEqual({ ok: true, seq: 4 });
  });

  it("a read that only catches up with delivered moves the read pointer alone", async () => {
    const { conversationId, a, b } = await pair(4);
    const first = nextEvent<PointerMoved>(a, "conversation:delivered");
    await mark(b, "conversation:delivered", conversationId, 4);
    await first;
    const delivered = collect<PointerMoved>(a, "conversation:delivered");
    const read = nextEvent<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 2)).toEqual({ ok: true, seq: 2 });
    expect((await read).seq).toBe(2);
    expect(delivered).toEqual([]);
  });

  it("the sender's own messages are read and delivered by sending", async () => {
    const { alice, conversationId } = await pair(2);
    expect(await pointersOf(conversationId, alice)).toEqual({ read: 2, delivered: 2 });
  });
});

describe("refusals", () => {
  it("refuses non-members (FORBIDDEN), unknown conversations (NOT_FOUND) and bad payloads (VALIDATION)", async () => {
    const { conversationId, a } = await pair(1);
    const mallory = await seedUser(models, "mallory");
    const m = (await connectClient(nodes[1]!.url, mallory.token)).socket;
    const seen = collect(a, "conversation:read");

    expect(await mark(m, "conversation:read", conversationId, 1)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await mark(m, "conversation:delivered", conversationId, 1)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await mark(m, "conversation:read", new Types.ObjectId().toHexString(), 1)).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await mark(m, "conversation:read", conversationId, -1)).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await mark(m, "conversation:read", conversationId, 1.5)).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await m.timeout(5_000).emitWithAck("conversation:read", { conversationId: "nope", seq: 1 } as never)).toMatchObject({
      ok: false,
      error: { code: "VALIDATION" },
    });
    expect(await nodes[0]!.redis.hexists(keys.conversationRead(conversationId), mallory.id)).toBe(0);
    expect(seen).toEqual([]);
  });
});

describe("after Redis lost the conversation", () => {
  it("loads it from MongoDB, restores the stored pointers, and still never moves backwards", async () => {
    const { alice, bob, conversationId, a, b } = await pair(6);
    // What the worker would have stored: the messages (lastSeq) and Bob's pointers.
    const oid = (id: string) => new Types.ObjectId(id);
    await models.Conversation.updateOne({ _id: oid(conversationId) }, { $set: { lastSeq: 6 } });
    await models.Receipt.create({
      _id: receiptId(conversationId, bob.id),
      conversationId: oid(conversationId),
      userId: oid(bob.id),
      read: 4,
      delivered: 5,
    });
    await nodes[0]!.redis.del(
      keys.conversationSeq(conversationId),
      keys.conversationMembers(conversationId),
      keys.conversationMembersVersion(conversationId),
      keys.conversationRead(conversationId),
      keys.conversationDelivered(conversationId),
    );

    const seen = collect<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 3)).toEqual({ ok: true, seq: 4 });
    expect(await mark(b, "conversation:delivered", conversationId, 2)).toEqual({ ok: true, seq: 5 });
    expect(seen).toEqual([]);
    expect(await pointersOf(conversationId, bob)).toEqual({ read: 4, delivered: 5 });
    expect(await pointersOf(conversationId, alice)).toEqual({ read: 0, delivered: 0 });

    const read = nextEvent<PointerMoved>(a, "conversation:read");
    expect(await mark(b, "conversation:read", conversationId, 6)).toEqual({ ok: true, seq: 6 });
    expect((await read).seq).toBe(6);
  });
});
