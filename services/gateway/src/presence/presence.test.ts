/**
 * Presence on two gateways in this process, on one real Redis and FerretDB: multi-device counting,
 * selective delivery, presence:query, the reaper of dead nodes and a node that was reaped while alive.
 * The SIGKILL of a real gateway process is tested in test/cluster/presence.test.ts.
 */
import type { Connection } from "mongoose";
import { Types } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { loadConfig } from "@parley/shared/config";
import { readPresence } from "@parley/shared/presence";
import type { Models } from "@parley/shared/models";
import type { Presence } from "@parley/protocol";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, connectClient, nextPresenceUpdate, type ClientSocket } from "../../../../test/helpers/clients.js";
import { TEST_JWT_SECRET, testMongoUrl } from "../../../../test/helpers/env.js";
import { collect, eventually } from "../../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedBlock, seedConversation, seedUser, type SeededUser } from "../../../../test/helpers/seed.js";
import { gatewayConfigSchema } from "../config.js";
import { checkPresenceConfig, presenceExpiryBoundMs } from "./presence.config.js";

type PresenceUpdate = { userId: string } & Presence;

const HEARTBEAT_MS = 100;
const NODE_TTL_MS = 600;
const ENV = { PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS), PRESENCE_NODE_TTL_MS: String(NODE_TTL_MS) };

const redisServer = useRedisServer("presence");
const keys = redisKeys("parley");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("presence")));
  nodes = [await startGatewayNode("node-a", redisServer.url, models, ENV), await startGatewayNode("node-b", redisServer.url, models, ENV)];
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

const redis = () => nodes[0]!.redis;

function query(socket: ClientSocket, userIds: unknown) {
  return socket.timeout(5_000).emitWithAck("presence:query", { userIds } as never);
}

/** Updates about `userId` that `socket` receives. */
function updatesAbout(socket: ClientSocket, userId: string): PresenceUpdate[] {
  const seen: PresenceUpdate[] = [];
  socket.on("presence:update", (update) => {
    if (update.userId === userId) seen.push(update);
  });
  return seen;
}

async function nodeOf(name: string): Promise<string> {
  return eventually(async () => (await redis().zrange(keys.presenceNodes(), 0, "-1")).find((n) => n.startsWith(`${name}~`)), 5_000, `${name} registered`);
}

async function trio() {
  const alice = await seedUser(models, "alice");
  const bob = await seedUser(models, "bob");
  const mallory = await seedUser(models, "mallory");
  const conversationId = await seedConversation(models, [alice, bob]);
  return { alice, bob, mallory, conversationId };
}

describe("configuration", () => {
  it("has defaults under which a dead gateway's sockets expire within 30 seconds", () => {
    const config = loadConfig(gatewayConfigSchema, { JWT_SECRET: TEST_JWT_SECRET });
    expect(config.PRESENCE_HEARTBEAT_MS).toBe(5_000);
    expect(config.PRESENCE_NODE_TTL_MS).toBe(15_000);
    expect(presenceExpiryBoundMs(config)).toBeLessThanOrEqual(30_000);
    expect(() => checkPresenceConfig(config)).not.toThrow();
  });

  it("refuses a TTL that a single late heartbeat could outlive", () => {
    expect(() => checkPresenceConfig({ PRESENCE_HEARTBEAT_MS: 5_000, PRESENCE_NODE_TTL_MS: 10_000 })).toThrow(/PRESENCE_NODE_TTL_MS/);
  });
});

describe("online and offline across nodes", () => {
  it("is online while any device is connected and announces offline only after the last, with lastSeen", async () => {
    const { alice, bob, mallory } = await trio();
    const carol = await seedUser(models, "carol");
    await seedConversation(models, [bob, carol]);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const m = await connectClient(nodes[0]!.url, mallory.token);
    const atBob = updatesAbout(b.socket, alice.id);
    const atMallory = collect<PresenceUpdate>(m.socket, "presence:update");

    const online = nextPresenceUpdate(b.socket, alice.id);
    const phone = await connectClient(nodes[0]!.url, alice.token);
    expect(await online).toEqual({ userId: alice.id, status: "online", lastSeen: null });
    const laptop = await connectClient(nodes[1]!.url, alice.token);
    // Carol's update is emitted after anything alice's second device could have caused, on the same path.
    const marker = nextPresenceUpdate(b.socket, carol.id);
    await connectClient(nodes[1]!.url, carol.token);
    await marker;
    expect(atBob).toHaveLength(1);

    phone.socket.disconnect();
    await eventually(async () => (await redis().hlen(keys.userConnections(alice.id))) === 1, 5_000, "one connection left");
    expect(await query(b.socket, [alice.id])).toEqual({ ok: true, presence: { [alice.id]: { status: "online", lastSeen: null } } });

    const offline = nextPresenceUpdate(b.socket, alice.id);
    laptop.socket.disconnect();
    const update = await offline;
    expect(update).toEqual({ userId: alice.id, status: "offline", lastSeen: expect.any(String) });
    expect(await query(b.socket, [alice.id])).toEqual({ ok: true, presence: { [alice.id]: { status: "offline", lastSeen: update.lastSeen } } });
    expect(atBob.map((u) => u.status)).toEqual(["online", "offline"]);
    expect(atMallory).toEqual([]);

    const jobs = await nodes[0]!.queue.getJobs(["waiting"]);
    expect(jobs.filter((job) => job.name === "last-seen").map((job) => job.data)).toContainEqual({ userId: alice.id, lastSeen: update.lastSeen });
    // Neither node still lists alice among its users.
    for (const name of ["node-a", "node-b"]) {
      await eventually(async () => (await redis().sismember(keys.nodeUsers(await nodeOf(name)), alice.id)) === 0, 5_000, `alice off ${name}`);
    }

    // Coming back announces online with the lastSeen it ends.
    const back = nextPresenceUpdate(b.socket, alice.id);
    await connectClient(nodes[0]!.url, alice.token);
    expect(await back).toEqual({ userId: alice.id, status: "online", lastSeen: update.lastSeen });
  });

  it("does not announce a user's own presence to their other devices", async () => {
    const { alice, bob } = await trio();
    const first = await connectClient(nodes[0]!.url, alice.token);
    const atSelf = collect<PresenceUpdate>(first.socket, "presence:update");
    const marker = nextPresenceUpdate(first.socket, bob.id);
    await connectClient(nodes[1]!.url, bob.token);
    await marker;
    expect(atSelf.map((u) => u.userId)).toEqual([bob.id]);
  });
});

describe("presence:query", () => {
  it("answers 500 users at once: itself and contacts, online or offline; strangers unknown", async () => {
    const { alice, bob, mallory } = await trio();
    const carol = await seedUser(models, "carol");
    await seedConversation(models, [alice, bob, carol]);
    await connectClient(nodes[1]!.url, bob.token);
    // Mallory is online, but shares no conversation with alice.
    await connectClient(nodes[1]!.url, mallory.token);
    const a = await connectClient(nodes[0]!.url, alice.token);
    const strangers = Array.from({ length: 496 }, () => new Types.ObjectId().toHexString());
    const res = await query(a.socket, [alice.id, bob.id, carol.id, mallory.id, ...strangers]);
    if (!res.ok) throw new Error(JSON.stringify(res));
    expect(Object.keys(res.presence)).toHaveLength(500);
    expect(res.presence[alice.id]).toEqual({ status: "online", lastSeen: null });
    expect(res.presence[bob.id]).toEqual({ status: "online", lastSeen: null });
    expect(res.presence[carol.id]).toEqual({ status: "offline", lastSeen: null });
    expect(res.presence[mallory.id]).toEqual({ status: "unknown", lastSeen: null });
    expect(res.presence[strangers[0]!]).toEqual({ status: "unknown", lastSeen: null });
  });

  it("refuses more than 500 users, or bad ids, with VALIDATION", async () => {
    const user = await seedUser(models);
    const c = await connectClient(nodes[0]!.url, user.token);
    const ids = Array.from({ length: 501 }, () => new Types.ObjectId().toHexString());
    expect(await query(c.socket, ids)).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await query(c.socket, ["nope"])).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await query(c.socket, [])).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
  });
});

describe("visibility", () => {
  const UNKNOWN = { status: "unknown", lastSeen: null };

  it("answers a stranger and a block peer as unknown, either way, and a contact as they are", async () => {
    const { alice, bob, mallory } = await trio();
    const carol = await seedUser(models, "carol");
    await seedConversation(models, [alice, bob, carol]);
    await connectClient(nodes[1]!.url, mallory.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const c = await connectClient(nodes[0]!.url, carol.token);
    const a = await connectClient(nodes[0]!.url, alice.token);
    const online = { status: "online", lastSeen: null };
    expect(await query(a.socket, [bob.id, carol.id, mallory.id])).toEqual({
      ok: true,
      presence: { [bob.id]: online, [carol.id]: online, [mallory.id]: UNKNOWN },
    });

    await seedBlock(models, redis(), keys, bob, alice);
    // Alice and bob still share the direct conversation and the group: the block alone hides them.
    expect(await query(a.socket, [alice.id, bob.id, carol.id])).toEqual({
      ok: true,
      presence: { [alice.id]: online, [bob.id]: UNKNOWN, [carol.id]: online },
    });
    expect(await query(b.socket, [alice.id, carol.id])).toEqual({ ok: true, presence: { [alice.id]: UNKNOWN, [carol.id]: online } });
    expect(await query(c.socket, [alice.id, bob.id])).toEqual({ ok: true, presence: { [alice.id]: online, [bob.id]: online } });
  });

  it("never announces online or offline to a block peer, in either direction, while shared groups hear it", async () => {
    const { alice, bob } = await trio();
    const carol = await seedUser(models, "carol");
    const dave = await seedUser(models, "dave");
    const erin = await seedUser(models, "erin");
    await seedConversation(models, [alice, bob, carol]);
    await seedConversation(models, [bob, dave]);
    await seedConversation(models, [alice, erin]);
    await seedBlock(models, redis(), keys, alice, bob);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const c = await connectClient(nodes[0]!.url, carol.token);
    const atBob = updatesAbout(b.socket, alice.id);

    // Alice comes and goes: carol hears both, bob neither.
    const online = nextPresenceUpdate(c.socket, alice.id);
    const phone = await connectClient(nodes[0]!.url, alice.token);
    expect(await online).toMatchObject({ status: "online" });
    const offline = nextPresenceUpdate(c.socket, alice.id);
    phone.socket.disconnect();
    expect(await offline).toMatchObject({ status: "offline" });
    // Dave's arrival on alice's node is the marker: whatever alice caused was sent to bob before it.
    const daveOnline = nextPresenceUpdate(b.socket, dave.id);
    await connectClient(nodes[0]!.url, dave.token);
    await daveOnline;
    expect(atBob).toEqual([]);

    // Bob comes and goes: alice does not hear it.
    const a = await connectClient(nodes[0]!.url, alice.token);
    const atAlice = updatesAbout(a.socket, bob.id);
    const bobOffline = nextPresenceUpdate(c.socket, bob.id);
    b.socket.disconnect();
    await bobOffline;
    const bobOnline = nextPresenceUpdate(c.socket, bob.id);
    await connectClient(nodes[1]!.url, bob.token);
    await bobOnline;
    // Erin's arrival on bob's node is the marker at alice.
    const erinOnline = nextPresenceUpdate(a.socket, erin.id);
    await connectClient(nodes[1]!.url, erin.token);
    await erinOnline;
    expect(atAlice).toEqual([]);
  });
});

describe("dead nodes", () => {
  /** Writes what a gateway that died without a word leaves behind: a stale heartbeat and one socket of `user`. */
  async function ghostNode(user: SeededUser, name = `ghost~${new Types.ObjectId().toHexString()}`) {
    await redis().zadd(keys.presenceNodes(), Date.now() - 60_000, name);
    await redis().sadd(keys.nodeUsers(name), user.id);
    await redis().hset(keys.userConnections(user.id), `${name}|sock-1`, String(Date.now()));
    return name;
  }

  it("reaps a dead node exactly once: offline announced to the user's conversations, lastSeen stored and queued", async () => {
    const { alice, bob, mallory } = await trio();
    const b = await connectClient(nodes[1]!.url, bob.token);
    const m = await connectClient(nodes[0]!.url, mallory.token);
    const atBob = updatesAbout(b.socket, alice.id);
    const atMallory = collect(m.socket, "presence:update");

    const offline = nextPresenceUpdate(b.socket, alice.id, NODE_TTL_MS + 5_000);
    const ghost = await ghostNode(alice);
    const update = await offline;
    expect(update).toEqual({ userId: alice.id, status: "offline", lastSeen: expect.any(String) });
    await eventually(async () => (await redis().zscore(keys.presenceNodes(), ghost)) === null, 5_000, "ghost node removed");
    expect(await redis().exists(keys.nodeUsers(ghost), keys.userConnections(alice.id))).toBe(0);
    expect(await redis().get(keys.userLastSeen(alice.id))).toBe(update.lastSeen);
    const jobs = await nodes[0]!.queue.getJobs(["waiting"]);
    expect(jobs.filter((job) => job.name === "last-seen").map((job) => job.data)).toContainEqual({ userId: alice.id, lastSeen: update.lastSeen });

    // A later update about alice travels the same path: a duplicate offline would have arrived first.
    const online = nextPresenceUpdate(b.socket, alice.id);
    await connectClient(nodes[0]!.url, alice.token);
    await online;
    expect(atBob.map((u) => u.status)).toEqual(["offline", "online"]);
    expect(atMallory).toEqual([]);
  });

  it("reaps a node with hundreds of users, in batches", async () => {
    const { alice, bob } = await trio();
    const b = await connectClient(nodes[1]!.url, bob.token);
    const others = Array.from({ length: 450 }, () => new Types.ObjectId().toHexString());
    const name = `big~${new Types.ObjectId().toHexString()}`;
    const pipeline = redis().pipeline();
    for (const id of [...others, alice.id]) {
      pipeline.sadd(keys.nodeUsers(name), id).hset(keys.userConnections(id), `${name}|s-${id}`, String(Date.now()));
    }
    pipeline.zadd(keys.presenceNodes(), Date.now() - 60_000, name);
    await pipeline.exec();

    expect(await nextPresenceUpdate(b.socket, alice.id, NODE_TTL_MS + 5_000)).toMatchObject({ status: "offline" });
    await eventually(async () => (await redis().zscore(keys.presenceNodes(), name)) === null, 10_000, "big node removed");
    // Strangers to everyone here, so read as stored rather than through presence:query.
    const stored = await readPresence(redis(), keys, others);
    expect(Object.values(stored).every((p) => p.status === "offline" && p.lastSeen !== null)).toBe(true);
  });

  it("keeps a user online whose other device is on a live node", async () => {
    const { alice, bob } = await trio();
    await connectClient(nodes[0]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const atBob = updatesAbout(b.socket, alice.id);
    const ghost = await ghostNode(alice);
    await eventually(async () => (await redis().zscore(keys.presenceNodes(), ghost)) === null, NODE_TTL_MS + 5_000, "ghost node reaped");
    expect(await redis().hlen(keys.userConnections(alice.id))).toBe(1);
    expect(atBob).toEqual([]);
  });

  it("re-registers the sockets of a node that was declared dead while it was alive", async () => {
    const { alice, bob } = await trio();
    await connectClient(nodes[0]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const atBob = updatesAbout(b.socket, alice.id);
    const before = await nodeOf("node-a");

    // As if node-a had stalled past the TTL: its next heartbeat notices that its heartbeat was taken
    // over, and it re-registers its sockets under a new incarnation; the old one is reaped meanwhile.
    await redis().zadd(keys.presenceNodes(), 0, before);
    const after = await eventually(async () => {
      const name = await nodeOf("node-a");
      return name !== before && (await redis().zscore(keys.presenceNodes(), before)) === null && name;
    }, NODE_TTL_MS + 5_000, "a new incarnation, and the old one reaped");
    expect(Object.keys(await redis().hgetall(keys.userConnections(alice.id)))).toEqual([expect.stringMatching(new RegExp(`^${after}\\|`))]);
    expect(await redis().sismember(keys.nodeUsers(after), alice.id)).toBe(1);
    expect(await query(b.socket, [alice.id])).toMatchObject({ ok: true, presence: { [alice.id]: { status: "online" } } });
    // Whether the reaper or the heartbeat came first, bob's view ends online.
    expect(["", "offline,online"]).toContain(atBob.map((u) => u.status).join(","));
  });

  it("removes its own node on a graceful stop and announces its users offline", async () => {
    const { alice, bob } = await trio();
    const node = await startGatewayNode("node-c", redisServer.url, models, ENV);
    let closed = false;
    try {
      const b = await connectClient(nodes[1]!.url, bob.token);
      const online = nextPresenceUpdate(b.socket, alice.id);
      await connectClient(node.url, alice.token);
      await online;
      const incarnation = await nodeOf("node-c");
      const offline = nextPresenceUpdate(b.socket, alice.id);
      await node.close();
      closed = true;
      expect(await offline).toMatchObject({ status: "offline" });
      expect(await redis().zscore(keys.presenceNodes(), incarnation)).toBeNull();
      expect(await redis().exists(keys.nodeUsers(incarnation))).toBe(0);
    } finally {
      if (!closed) await node.close();
    }
  });
});
