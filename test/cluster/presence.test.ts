/**
 * Presence on a real cluster: nginx in front of two gateway processes, the API and the worker. Every
 * client connects through nginx. The gateways heartbeat fast here, so that a SIGKILLed gateway's users
 * go offline within seconds; the defaults (≤ 30 s) are checked in the gateway's presence unit tests.
 */

import { Redis } from "ioredis";
import { Types } from "mongoose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";
import type { Presence } from "@parley/protocol";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, connectClient, nextPresenceUpdate, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { collect, eventually } from "../helpers/events.js";

type PresenceUpdate = { userId: string } & Presence;

const HEARTBEAT_MS = 250;
const NODE_TTL_MS = 1_500;

const fixture = useCluster("presence", {
  envFor: { gateway: { PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS), PRESENCE_NODE_TTL_MS: String(NODE_TTL_MS) } },
});
const keys = redisKeys("parley");
let redis: Redis;
let models: Models;

beforeAll(async () => {
  redis = fixture.redis;
  models = await fixture.models();
});

afterEach(() => closeAllClients());

function query(socket: ClientSocket, userIds: string[]) {
  return socket.timeout(5_000).emitWithAck("presence:query", { userIds });
}

/** Alice and bob share a conversation; mallory shares none with them. */
async function users() {
  const { api } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const mallory = await api.register("mallory");
  await api.direct(alice.token, bob.id);
  return { alice, bob, mallory };
}

describe("presence through nginx", () => {
  it("two devices on two gateways: online with the first, offline only after the last, to members only", async () => {
    const { alice, bob, mallory } = await users();
    const phone = await fixture.connectTo(0, alice.token);
    const laptop = await fixture.connectTo(1, alice.token);
    // Placing the devices may have opened and closed others: wait until only these two are left.
    await eventually(async () => (await redis.hlen(keys.userConnections(alice.id))) === 2, 5_000, "two devices");
    const b = await connectClient(fixture.cluster.url, bob.token);
    const m = await connectClient(fixture.cluster.url, mallory.token);
    const atBob = collect<PresenceUpdate>(b.socket, "presence:update");
    const atMallory = collect<PresenceUpdate>(m.socket, "presence:update");
    expect(await query(b.socket, [alice.id])).toMatchObject({ ok: true, presence: { [alice.id]: { status: "online" } } });

    phone.socket.disconnect();
    await eventually(async () => (await redis.hlen(keys.userConnections(alice.id))) === 1, 5_000, "one device left");
    expect(await query(b.socket, [alice.id])).toMatchObject({ ok: true, presence: { [alice.id]: { status: "online" } } });

    const offline = nextPresenceUpdate(b.socket, alice.id);
    laptop.socket.disconnect();
    const update = await offline;
    expect(update).toEqual({ userId: alice.id, status: "offline", lastSeen: expect.any(String) });
    expect(await query(b.socket, [alice.id])).toEqual({ ok: true, presence: { [alice.id]: { status: "offline", lastSeen: update.lastSeen } } });
    // Mallory shares no conversation with alice: she learns nothing, not even when alice was last seen.
    expect(await query(m.socket, [alice.id])).toEqual({ ok: true, presence: { [alice.id]: { status: "unknown", lastSeen: null } } });

    // Coming back on whichever gateway announces online, with the lastSeen it ends.
    const online = nextPresenceUpdate(b.socket, alice.id);
    await connectClient(fixture.cluster.url, alice.token);
    expect(await online).toEqual({ userId: alice.id, status: "online", lastSeen: update.lastSeen });
    expect(atBob.filter((u) => u.userId === alice.id).map((u) => u.status)).toEqual(["offline", "online"]);
    expect(atMallory).toEqual([]);
    // The worker stores lastSeen in MongoDB.
    await eventually(
      async () => (await models.User.findById(alice.id).lean())?.lastSeen?.toISOString() === update.lastSeen,
      15_000,
      "lastSeen persisted",
    );
  });

  it("answers presence:query for 500 users in one ack, strangers as unknown", async () => {
    const { alice, bob } = await users();
    const a = await fixture.connectTo(0, alice.token);
    await fixture.connectTo(1, bob.token);
    const others = Array.from({ length: 498 }, () => new Types.ObjectId().toHexString());
    const res = await query(a.socket, [bob.id, alice.id, ...others]);
    if (!res.ok) throw new Error(JSON.stringify(res));
    expect(Object.keys(res.presence)).toHaveLength(500);
    expect(res.presence[bob.id]?.status).toBe("online");
    expect(res.presence[alice.id]?.status).toBe("online");
    expect(others.every((id) => res.presence[id]?.status === "unknown")).toBe(true);
  });
});

describe("a gateway killed with SIGKILL", () => {
  it("leaves no ghost: the other members get offline within the TTL, and lastSeen is persisted", async () => {
    const { cluster } = fixture;
    const { alice, bob, mallory } = await users();
    const a = await connectClient(cluster.url, alice.token);
    const doomed = fixture.gatewayIndexOf(a);
    const b = await fixture.connectTo(1 - doomed, bob.token);
    const m = await fixture.connectTo(1 - doomed, mallory.token);
    const atMallory = collect<PresenceUpdate>(m.socket, "presence:update");
    const node = (await redis.zrange(keys.presenceNodes(), 0, "-1")).find((n) => n.startsWith(`${a.session.node}~`));
    expect(node).toBeDefined();

    try {
      const offline = nextPresenceUpdate(b.socket, alice.id, NODE_TTL_MS + HEARTBEAT_MS + 10_000);
      const killedAt = Date.now();
      await cluster.gateways[doomed]!.kill();
      const update = await offline;
      const elapsed = Date.now() - killedAt;
      expect(update).toEqual({ userId: alice.id, status: "offline", lastSeen: expect.any(String) });
      // The heartbeat was at most one period old when the process died.
      expect(elapsed).toBeLessThanOrEqual(NODE_TTL_MS + 2 * HEARTBEAT_MS + 2_000);
      expect(await query(b.socket, [alice.id])).toMatchObject({ ok: true, presence: { [alice.id]: { status: "offline" } } });
      // The reaper forgets the node after announcing its users.
      await eventually(async () => (await redis.zscore(keys.presenceNodes(), node!)) === null, 10_000, "node forgotten");
      expect(await redis.exists(keys.nodeUsers(node!))).toBe(0);
      await eventually(
        async () => (await models.User.findById(alice.id).lean())?.lastSeen?.toISOString() === update.lastSeen,
        15_000,
        "lastSeen persisted",
      );
      expect(atMallory).toEqual([]);
    } finally {
      await cluster.gateways[doomed]!.start();
    }
  });
});
