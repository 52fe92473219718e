/**
 * parley on a real Redis Cluster: three masters started from redis-server by this file, nginx in front
 * of two gateway processes, the API and the worker, all given `REDIS_CLUSTER_NODES`, and a database of
 * this file's own. Every client connects through nginx.
 *
 * What it proves: the classic adapter carries fan-out between the gateways over cluster pub/sub; the
 * emitter (API, worker) reaches sockets on both gateways; BullMQ runs on the cluster under the
 * hash-tagged prefix; every script and every pipeline works with keys spread over the masters; and
 * the keys really are spread, so none of it passed by landing on one node.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { Cluster, Redis } from "ioredis";
import { Types } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { ConversationView, Message, MessagePersisted, PointerMoved } from "@parley/protocol";
import { redisKeys } from "@parley/shared/redis-keys";
import { keySlot } from "@parley/shared/redis-slots";

import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient, nextPresenceUpdate, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";
import { seedUser } from "../helpers/seed.js";

const keys = redisKeys("parley");

/** The worker's webhook receiver: notifications for offline users are delivered here. */
const notified: { userId: string; message: Message }[] = [];
const receiver = createServer((req, res: ServerResponse) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    notified.push(JSON.parse(body) as { userId: string; message: Message });
    res.writeHead(204).end();
  });
});
// Registered before the cluster's hook, so the worker starts with the receiver's address.
const workerEnv: Record<string, string> = {};
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  Object.assign(workerEnv, {
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`,
    NOTIFY_WEBHOOK_SECRET: "redis-cluster-test-webhook-secret",
  });
});

const fixture = useCluster("redis-cluster", { redisCluster: true, envFor: { worker: workerEnv } });

/** A cluster client, and one plain connection per master (SCAN on a master lists its own keys only). */
let cluster: Cluster | undefined;
let masters: Redis[] = [];
function clusterRedis(): Cluster {
  if (cluster) return cluster;
  // The harness starts three masters without replicas: its seed nodes are the masters.
  const seeds = fixture.cluster.redisClusterNodes!.split(",").map((seed) => {
    const [host, port] = seed.split(":");
    return { host: host!, port: Number(port) };
  });
  masters = seeds.map(({ host, port }) => new Redis({ host, port }));
  return (cluster = new Cluster(seeds));
}

afterEach(() => closeAllClients());
afterAll(async () => {
  cluster?.disconnect();
  for (const master of masters) master.disconnect();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

/** Every key matching `pattern` on each master, by master. */
async function keysPerMaster(pattern: string): Promise<string[][]> {
  clusterRedis();
  return Promise.all(
    masters.map(async (master) => {
      const found: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await master.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== "0");
      return found;
    }),
  );
}

/** The index of the master serving `key`, from the cluster's own slot map. */
async function masterOf(key: string): Promise<number> {
  const redis = clusterRedis();
  const slot = Number(await redis.cluster("KEYSLOT", key));
  const shards = await redis.cluster("SLOTS");
  const port = shards.find(([first, last]) => slot >= first && slot <= last)![2]![1];
  return fixture.cluster.redisClusterNodes!.split(",").findIndex((seed) => seed.endsWith(`:${port}`));
}

async function send(socket: ClientSocket, conversationId: string, content: string): Promise<Message> {
  const ack = await socket.timeout(5_000).emitWithAck("message:send", { conversationId, clientMsgId: new Types.ObjectId().toHexString(), content });
  if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
  return ack.message;
}

async function post(user: RegisteredUser, conversationId: string, content: string): Promise<Message> {
  const res = await fixture.api.request<{ message: Message }>("POST", `/api/conversations/${conversationId}/messages`, {
    token: user.token,
    body: { clientMsgId: new Types.ObjectId().toHexString(), content },
  });
  if (res.status !== 201) throw new Error(`REST send failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.message;
}

describe("parley on a three-master Redis Cluster", () => {
  it("runs the cluster the harness started: three masters, every slot served", async () => {
    const info = await clusterRedis().cluster("INFO");
    expect(info).toContain("cluster_state:ok");
    expect(info).toContain("cluster_size:3");
    expect(fixture.cluster.redisClusterNodes!.split(",")).toHaveLength(3);
  });

  it("two clients on different gateways exchange messages, persisted by the worker and confirmed to both", async () => {
    const { alice, bob, conversation, a, b } = await fixture.connectedPair("websocket");
    expect(a.session.node).not.toBe(b.session.node);
    const persistedAtA = collect<MessagePersisted>(a.socket, "message:persisted");
    const persistedAtB = collect<MessagePersisted>(b.socket, "message:persisted");

    const atBob = nextEvent<Message>(b.socket, "message:new");
    const fromAlice = await send(a.socket, conversation.id, "hi bob");
    expect(await atBob).toEqual(fromAlice);

    const atAlice = nextEvent<Message>(a.socket, "message:new");
    const fromBob = await send(b.socket, conversation.id, "hi alice");
    expect(fromBob).toMatchObject({ seq: 2, senderId: bob.id });
    expect(await atAlice).toEqual(fromBob);
    // The worker confirms through the emitter, to the conversation's room on both gateways.
    const confirmations = [fromAlice, fromBob].map(({ id, seq, clientMsgId }) => ({ id, conversationId: conversation.id, seq, clientMsgId }));
    const bySeq = (events: MessagePersisted[]) => [...events].sort((x, y) => x.seq - y.seq);
    await eventually(() => persistedAtA.length === 2 && persistedAtB.length === 2, 15_000, "message:persisted at both");
    expect(bySeq(persistedAtA)).toEqual(confirmations);
    expect(bySeq(persistedAtB)).toEqual(confirmations);

    await eventually(async () => (await fixture.api.history(alice.token, conversation.id)).body.messages.length === 2, 15_000, "both stored");
    const models = await fixture.models();
    expect(await models.Message.countDocuments({ conversationId: new Types.ObjectId(conversation.id) })).toBe(2);
  });

  it("delivers a REST-sent message and a membership change to sockets on both gateways", async () => {
    const { api } = fixture;
    const owner = await api.register("owner");
    const early = await api.register("early");
    const late = await api.register("late");
    const group = await api.group(owner.token, "crew", [early.id]);
    const lateOn = [await fixture.connectTo(0, late.token), await fixture.connectTo(1, late.token)];

    // The API emits through the emitter: conversation:created to the user's room, socketsJoin on every node.
    const created = lateOn.map((c) => nextEvent<{ conversation: { id: string } }>(c.socket, "conversation:created"));
    const res = await api.request("POST", `/api/conversations/${group.id}/members`, { token: owner.token, body: { userIds: [late.id] } });
    expect(res.status).toBe(200);
    for (const event of await Promise.all(created)) expect(event.conversation.id).toBe(group.id);

    const received = lateOn.map((c) => nextEvent<Message>(c.socket, "message:new"));
    const message = await post(owner, group.id, "welcome, from REST");
    for (const got of await Promise.all(received)) expect(got).toEqual(message);

    // The new member can write at once: the member cache on the cluster was replaced, not just MongoDB.
    expect(await send(lateOn[1]!.socket, group.id, "thanks")).toMatchObject({ seq: 2, senderId: late.id });

    // Removed again: socketsLeave on every node, so nothing more reaches either of their sockets.
    const earlyOn = await connectClient(fixture.cluster.url, early.token);
    const updated = lateOn.map((c) => nextEvent<{ conversation: { members: string[] } }>(c.socket, "conversation:updated"));
    const removed = await api.request("DELETE", `/api/conversations/${group.id}/members/${late.id}`, { token: owner.token });
    expect(removed.status).toBe(200);
    for (const event of await Promise.all(updated)) expect(event.conversation.members).not.toContain(late.id);
    const atLate = lateOn.map((c) => collect<Message>(c.socket, "message:new"));
    const atEarly = nextEvent<Message>(earlyOn.socket, "message:new");
    // The worker's confirmation comes after the fan-out: by then a stray delivery would have arrived.
    const confirmedAtEarly = collect<MessagePersisted>(earlyOn.socket, "message:persisted");
    const after = await post(owner, group.id, "members only");
    expect(await atEarly).toEqual(after);
    await eventually(() => confirmedAtEarly.some((c) => c.id === after.id), 15_000, "the confirmation at a member");
    expect(atLate.flat()).toEqual([]);
  });

  it("syncs what a client missed while disconnected", async () => {
    const { alice, conversation, a, b } = await fixture.connectedPair("websocket");
    const first = await send(a.socket, conversation.id, "before");
    a.socket.disconnect();
    const missed = [await send(b.socket, conversation.id, "while away 1"), await send(b.socket, conversation.id, "while away 2")];

    const again = await connectClient(fixture.cluster.url, alice.token);
    const res = await again.socket.timeout(5_000).emitWithAck("sync", { conversationId: conversation.id, afterSeq: first.seq });
    expect(res).toMatchObject({ ok: true, recovered: true, hasMore: false, messages: missed });
  });

  it("carries receipts and presence between the gateways", async () => {
    const { alice, bob, conversation, a, b } = await fixture.connectedPair("websocket");
    const message = await send(a.socket, conversation.id, "read me");

    const readAtAlice = nextEvent<PointerMoved>(a.socket, "conversation:read");
    expect(await b.socket.timeout(5_000).emitWithAck("conversation:read", { conversationId: conversation.id, seq: message.seq })).toEqual({
      ok: true,
      seq: message.seq,
    });
    expect(await readAtAlice).toMatchObject({ conversationId: conversation.id, userId: bob.id, seq: message.seq });
    const models = await fixture.models();
    await eventually(
      async () => (await models.Receipt.findOne({ conversationId: new Types.ObjectId(conversation.id), userId: new Types.ObjectId(bob.id) }).lean())?.read === message.seq,
      15_000,
      "read pointer persisted",
    );

    // presence:query reads users spread over every master: one pipeline per node. Only contacts are
    // read, so the others are in a group with alice (seeded straight into MongoDB: no password to hash).
    const contactIds = (await Promise.all(Array.from({ length: 60 }, () => seedUser(models, "contact")))).map((c) => c.id);
    // Alice's socket is in the group's room once the group's announcement reaches it (the join comes first).
    const joined = nextEvent(a.socket, "conversation:created");
    await fixture.api.group(alice.token, "many", contactIds);
    await joined;
    const strangers = Array.from({ length: 5 }, () => new Types.ObjectId().toHexString());
    const query = await a.socket.timeout(5_000).emitWithAck("presence:query", { userIds: [bob.id, alice.id, ...contactIds, ...strangers] });
    if (!query.ok) throw new Error(JSON.stringify(query));
    expect(query.presence[bob.id]?.status).toBe("online");
    expect(query.presence[alice.id]?.status).toBe("online");
    expect(contactIds.every((id) => query.presence[id]?.status === "offline")).toBe(true);
    expect(strangers.every((id) => query.presence[id]?.status === "unknown")).toBe(true);
    expect(new Set(await Promise.all([bob.id, ...contactIds.slice(0, 20)].map((id) => masterOf(keys.userConnections(id))))).size).toBeGreaterThan(1);

    const offline = nextPresenceUpdate(a.socket, bob.id);
    b.socket.disconnect();
    expect(await offline).toEqual({ userId: bob.id, status: "offline", lastSeen: expect.any(String) });
    const online = nextPresenceUpdate(a.socket, bob.id);
    await connectClient(fixture.cluster.url, bob.token);
    expect(await online).toMatchObject({ userId: bob.id, status: "online" });
  });

  it("spreads conversations over every master, each conversation's keys on one, and reads them all back", async () => {
    const { api } = fixture;
    const owner = await api.register("owner");
    const reader = await api.register("reader");
    // Conversations until their slots cover every master: ids are random, so a few suffice.
    const groups: string[] = [];
    const covered = new Set<number>();
    while (covered.size < 3 || groups.length < 6) {
      if (groups.length >= 60) throw new Error("60 conversations and still not on every master");
      const group = await api.group(owner.token, `g${groups.length}`, [reader.id]);
      groups.push(group.id);
      covered.add(await masterOf(keys.conversationSeq(group.id)));
    }
    for (const id of groups) await post(owner, id, `hello ${id}`);

    const seqKeys = await keysPerMaster("parley:{c:*}:seq");
    const ours = seqKeys.map((onMaster) => onMaster.filter((key) => groups.some((id) => key.includes(id))));
    expect(ours.map((onMaster) => onMaster.length > 0)).toEqual([true, true, true]);
    expect(ours.flat()).toHaveLength(groups.length);

    // Every key of one conversation is on one master, in the slot parley computes.
    const sample = groups[0]!;
    const conversationKeys = (await keysPerMaster(`parley:{c:${sample}}:*`)).map((onMaster) => onMaster.length);
    expect(conversationKeys.filter((n) => n > 0)).toHaveLength(1);
    expect(Math.max(...conversationKeys)).toBeGreaterThanOrEqual(5);
    const slot = Number(await clusterRedis().cluster("KEYSLOT", keys.conversationStream(sample)));
    expect(keySlot(keys.conversationStream(sample))).toBe(slot);

    // The listing reads every conversation's pointers in one pipeline per master.
    const listing = await api.request<{ conversations: ConversationView[] }>("GET", "/api/conversations", { token: reader.token });
    expect(listing.status).toBe(200);
    const views = listing.body.conversations.filter((c) => groups.includes(c.id));
    expect(views).toHaveLength(groups.length);
    for (const view of views) {
      expect(view.unreadCount).toBe(1);
      expect(view.readPointers).toEqual({ [owner.id]: 1, [reader.id]: 0 });
    }

    // Nobody was connected: the worker notified the reader of each message (member sets on every master).
    await eventually(() => groups.every((id) => notified.some((n) => n.userId === reader.id && n.message.conversationId === id)), 15_000, "notifications");
    expect(notified.filter((n) => n.userId === owner.id)).toEqual([]);

    // BullMQ's keys share the hash tag of QUEUE_PREFIX: all on one master.
    const queueKeys = await keysPerMaster("{parley}:*");
    expect(queueKeys.filter((onMaster) => onMaster.length > 0)).toHaveLength(1);
  });
});
