/**
 * Recovery after a reconnect (`sync`) on a real cluster: nginx in front of two gateway processes, the
 * API and the worker, on a private Redis and a database of this file's own. Every client connects
 * through nginx; the reconnecting client lands on the other gateway.
 */
import { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import type { EventResult, Message, MessagePersisted, SyncResult } from "@parley/protocol";
import type { Models } from "@parley/shared/models";
import { redisKeys } from "@parley/shared/redis-keys";

import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient, type ClientSocket, type ConnectedClient } from "../helpers/clients.js";
import { useCluster, type ClusterFixture } from "../helpers/cluster.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";

/** The tests send faster than a person: no rate limits here. */
const env = { RATE_LIMITS_ENABLED: "false" };
const keys = redisKeys("parley");

afterEach(() => closeAllClients());

async function send(socket: ClientSocket, conversationId: string, clientMsgId: string, content = clientMsgId): Promise<Message> {
  const res = await socket.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId, content });
  if (!res.ok) throw new Error(`send failed: ${JSON.stringify(res.error)}`);
  return res.message;
}

async function sendMany(socket: ClientSocket, conversationId: string, count: number, label: string): Promise<Message[]> {
  const sent: Message[] = [];
  for (let i = 1; i <= count; i++) sent.push(await send(socket, conversationId, `${label}-${i}`));
  return sent;
}

function sync(socket: ClientSocket, payload: { conversationId: string; afterSeq: number; epoch?: string; limit?: number }) {
  return socket.timeout(10_000).emitWithAck("sync", payload as never);
}

async function synced(socket: ClientSocket, payload: Parameters<typeof sync>[1]): Promise<EventResult<"sync">> {
  const res = await sync(socket, payload);
  if (!res.ok) throw new Error(`sync failed: ${JSON.stringify(res.error)}`);
  const { ok: _, ...result } = res;
  return result;
}

/**
 * Connects through nginx until the socket lands on a gateway other than `notOn`. nginx balances new
 * connections with least_conn, so sockets kept open on `notOn` soon make the other gateway the choice.
 */
async function connectElsewhere(fixture: ClusterFixture, token: string, notOn: string): Promise<ConnectedClient> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const client = await connectClient(fixture.cluster.url, token);
    if (client.session.node !== notOn) return client;
  }
  throw new Error(`every connection landed on ${notOn}`);
}

interface Scene {
  alice: RegisteredUser;
  bob: RegisteredUser;
  conversationId: string;
  a: ConnectedClient;
  /** Bob's first socket, and what it held when it went away. */
  bobNode: string;
  held: Message[];
  epoch: string;
}

/**
 * Alice and Bob in a direct conversation; Bob receives `before` messages, learns the epoch with a
 * sync, and disconnects.
 */
async function bobGoesAway(fixture: ClusterFixture, before = 3): Promise<Scene> {
  const { api, cluster } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const conversationId = (await api.direct(alice.token, bob.id)).id;
  const a = await connectClient(cluster.url, alice.token);
  const b = await connectClient(cluster.url, bob.token);
  const received = collect<Message>(b.socket, "message:new");
  const sent = await sendMany(a.socket, conversationId, before, "before");
  await eventually(() => received.length === before, 5_000, "bob's deliveries");
  expect(received).toEqual(sent);
  const first = await synced(b.socket, { conversationId, afterSeq: before });
  expect(first).toMatchObject({ messages: [], hasMore: false, recovered: true, epochBase: 0 });
  b.socket.disconnect();
  return { alice, bob, conversationId, a, bobNode: b.session.node, held: received, epoch: first.epoch };
}

/** Bob comes back on the other gateway and syncs from what he held. */
async function bobReturns(fixture: ClusterFixture, scene: Scene, limit?: number): Promise<{ b: ConnectedClient; result: SyncResult }> {
  const b = await connectElsewhere(fixture, scene.bob.token, scene.bobNode);
  expect(b.session.node).not.toBe(scene.bobNode);
  const result = await synced(b.socket, {
    conversationId: scene.conversationId,
    afterSeq: scene.held.at(-1)!.seq,
    epoch: scene.epoch,
    ...(limit === undefined ? {} : { limit }),
  });
  return { b, result };
}

/** A message without `persisted`, which says whether the worker stored it yet (a race with the sync). */
function asSent({ persisted: _, ...message }: Message): Message {
  return message;
}

function expectExactly(result: SyncResult, sent: Message[], scene: Scene): void {
  const from = scene.held.at(-1)!.seq + 1;
  expect(result.messages.map((m) => m.seq)).toEqual(Array.from({ length: sent.length }, (_, i) => from + i));
  expect(result.messages.map(asSent)).toEqual(sent);
  expect(new Set(result.messages.map((m) => m.id)).size).toBe(sent.length);
  expect(result).toMatchObject({ hasMore: false, recovered: true, epoch: scene.epoch });
}

describe("with the default stream", () => {
  const fixture = useCluster("sync", { env });
  let mongo: { models: Models };
  let redis: Redis;
  beforeAll(async () => {
    mongo = { models: await fixture.models() };
    redis = fixture.redis;
  });

  it("gives a client back exactly the 100 messages it missed, on the other gateway", async () => {
    const scene = await bobGoesAway(fixture);
    const missed = await sendMany(scene.a.socket, scene.conversationId, 100, "away");
    const { result } = await bobReturns(fixture, scene);
    expectExactly(result, missed, scene);
  });

  it("does the same while the worker is stopped, from Redis alone", async () => {
    const scene = await bobGoesAway(fixture);
    await fixture.cluster.worker.stop();
    try {
      const missed = await sendMany(scene.a.socket, scene.conversationId, 100, "away");
      expect(await mongo.models.Message.countDocuments({ _id: { $in: missed.map((m) => m.id) } })).toBe(0);
      const { result } = await bobReturns(fixture, scene);
      expectExactly(result, missed, scene);
      // None is stored: none says it is.
      expect(result.messages.filter((m) => m.persisted)).toEqual([]);
    } finally {
      await fixture.cluster.worker.start();
    }
  });

  it("says which messages are stored, so that a client that was away for their message:persisted learns it", async () => {
    const scene = await bobGoesAway(fixture);
    const confirmed = collect<MessagePersisted>(scene.a.socket, "message:persisted");
    const missed = await sendMany(scene.a.socket, scene.conversationId, 5, "stored-while-away");
    // Alice heard each one stored; Bob's socket was gone.
    await eventually(() => missed.every((m) => confirmed.some((p) => p.id === m.id)), 10_000, "stored");
    const { result } = await bobReturns(fixture, scene);
    expectExactly(result, missed, scene);
    expect(result.messages.map((m) => m.persisted)).toEqual([true, true, true, true, true]);
  });

  it("pages with hasMore, every page exact", async () => {
    const scene = await bobGoesAway(fixture, 1);
    const missed = await sendMany(scene.a.socket, scene.conversationId, 25, "paged");
    const { b, result } = await bobReturns(fixture, scene, 10);
    const pages = [result];
    while (pages.at(-1)!.hasMore) {
      pages.push(await synced(b.socket, { conversationId: scene.conversationId, afterSeq: pages.at(-1)!.messages.at(-1)!.seq, epoch: scene.epoch, limit: 10 }));
    }
    expect(pages.map((p) => [p.messages.length, p.hasMore, p.recovered])).toEqual([
      [10, true, true],
      [10, true, true],
      [5, false, true],
    ]);
    expect(pages.flatMap((p) => p.messages).map(asSent)).toEqual(missed);
  });

  it("refuses a non-member with FORBIDDEN, an unknown conversation with NOT_FOUND, a bad payload with VALIDATION", async () => {
    const scene = await bobGoesAway(fixture, 1);
    const mallory = await fixture.api.register("mallory");
    const m = await connectClient(fixture.cluster.url, mallory.token);
    expect(await sync(m.socket, { conversationId: scene.conversationId, afterSeq: 0 })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await sync(m.socket, { conversationId: "0123456789abcdef01234567", afterSeq: 0 })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await sync(scene.a.socket, { conversationId: scene.conversationId, afterSeq: -1 })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await sync(scene.a.socket, { conversationId: scene.conversationId, afterSeq: 0, limit: 501 })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
  });

  it("shows a conversation the user was added to while away, joins it on reconnect, and syncs it", async () => {
    const { api, cluster } = fixture;
    const owner = await api.register("owner");
    const early = await api.register("early");
    const late = await api.register("late");
    const group = await api.group(owner.token, "crew", [early.id]);
    const o = await connectClient(cluster.url, owner.token);
    const away = await connectClient(cluster.url, late.token);
    away.socket.disconnect();

    const added = await api.request("POST", `/api/conversations/${group.id}/members`, { token: owner.token, body: { userIds: [late.id] } });
    expect(added.status).toBe(200);
    const missed = await sendMany(o.socket, group.id, 3, "while-away");

    const back = await connectElsewhere(fixture, late.token, away.session.node);
    const listing = await api.request<{ conversations: { id: string }[] }>("GET", "/api/conversations", { token: late.token });
    expect(listing.body.conversations.map((c) => c.id)).toContain(group.id);
    const live = nextEvent<Message>(back.socket, "message:new");
    const next = await send(o.socket, group.id, "after-return");
    expect(await live).toEqual(next);
    const result = await synced(back.socket, { conversationId: group.id, afterSeq: 0 });
    expect(result).toMatchObject({ messages: [...missed, next], hasMore: false, recovered: true });
  });

  it("starts a new epoch when Redis loses its state, and says whether what the client held is still good", async () => {
    const scene = await bobGoesAway(fixture, 0);
    const { a, conversationId } = scene;
    const persisted = collect<MessagePersisted>(a.socket, "message:persisted");
    const stored = await sendMany(a.socket, conversationId, 5, "stored");
    const ids = new Set(stored.map((m) => m.id));
    await eventually(() => new Set(persisted.map((p) => p.id).filter((id) => ids.has(id))).size === 5, 15_000, "5 messages persisted");
    await eventually(async () => (await mongo.models.Conversation.findById(conversationId).lean())?.lastSeq === 5, 10_000, "lastSeq 5");

    await fixture.cluster.worker.stop();
    let lost: Message[];
    try {
      lost = await sendMany(a.socket, conversationId, 3, "lost");
      // The private Redis of this cluster loses everything, queued jobs included.
      await redis.flushall();
    } finally {
      await fixture.cluster.worker.start();
    }
    expect(lost.map((m) => m.seq)).toEqual([6, 7, 8]);

    const b = await connectClient(fixture.cluster.url, scene.bob.token);
    // Held up to 3: all of it was stored, so the answer continues it exactly, from MongoDB.
    const behind = await synced(b.socket, { conversationId, afterSeq: 3, epoch: scene.epoch });
    expect(behind).toMatchObject({ messages: stored.slice(3), hasMore: false, recovered: true, epochBase: 5 });
    expect(behind.epoch).not.toBe(scene.epoch);
    // Held up to 8: 6..8 are gone and their seqs are reused, so the answer restarts after the base.
    const ahead = await synced(b.socket, { conversationId, afterSeq: 8, epoch: scene.epoch });
    expect(ahead).toEqual({ messages: [], hasMore: false, recovered: false, epoch: behind.epoch, epochBase: 5 });
    const reused = await send(a.socket, conversationId, "reused");
    expect(reused.seq).toBe(6);
    expect(await synced(b.socket, { conversationId, afterSeq: 8, epoch: scene.epoch })).toEqual({
      messages: [reused],
      hasMore: false,
      recovered: false,
      epoch: behind.epoch,
      epochBase: 5,
    });
    // With the new epoch, the client is back to normal.
    expect(await synced(b.socket, { conversationId, afterSeq: 6, epoch: behind.epoch })).toMatchObject({ messages: [], recovered: true });
    expect(await redis.hget(keys.conversationEpoch(conversationId), "id")).toBe(behind.epoch);
  });
});

describe("with a stream trimmed to 10 messages", () => {
  const fixture = useCluster("sync-trimmed", { env: { ...env, STREAM_MAX_LENGTH: "10" } });
  let redis: Redis;
  beforeAll(() => {
    redis = fixture.redis;
  });

  it("reads what the stream dropped from MongoDB, exact and in order", async () => {
    const scene = await bobGoesAway(fixture);
    const persisted = collect<MessagePersisted>(scene.a.socket, "message:persisted");
    const missed = await sendMany(scene.a.socket, scene.conversationId, 100, "away");
    const ids = new Set(missed.map((m) => m.id));
    await eventually(() => new Set(persisted.map((p) => p.id).filter((id) => ids.has(id))).size === 100, 20_000, "100 messages persisted");
    const [first] = await redis.xrange(keys.conversationStream(scene.conversationId), "-", "+", "COUNT", 1);
    // MAXLEN ~ trims whole stream nodes, so the stream keeps a few more than 10, but far fewer than 100.
    expect(Number(first![0].split("-")[0])).toBeGreaterThan(50);

    const { result } = await bobReturns(fixture, scene);
    expectExactly(result, missed, scene);
  });
});
