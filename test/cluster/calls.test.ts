/**
 * Call signaling on a real cluster: nginx in front of two gateway processes, the API and the worker.
 * Calls ring for 3 s and gateways heartbeat fast here, so that a missed call and a killed gateway are
 * quick to observe; the defaults (30 s ring, dead gateways reaped within 20 s) are the product's.
 */

import { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import { redisKeys } from "@parley/shared/redis-keys";

import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, eventsWithPrefix, connectClient, type ClientSocket, type ConnectedClient } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { eventually, nextEvent } from "../helpers/events.js";

const RING_MS = 3_000;
const HEARTBEAT_MS = 250;
const NODE_TTL_MS = 1_500;
const SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";
const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host", sdpMid: "0", sdpMLineIndex: 0 };

const fixture = useCluster("calls", {
  envFor: {
    gateway: {
      CALL_RING_TIMEOUT_MS: String(RING_MS),
      CALL_TTL_MS: "3000",
      PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      PRESENCE_NODE_TTL_MS: String(NODE_TTL_MS),
    },
  },
});
const keys = redisKeys("parley");
let redis: Redis;

beforeAll(() => {
  redis = fixture.redis;
});

afterEach(() => closeAllClients());



function call(socket: ClientSocket, event: string, payload: unknown) {
  return (socket.timeout(5_000).emitWithAck as (event: string, payload: unknown) => Promise<unknown>)(event, payload) as Promise<
    { ok: true; callId?: string } | { ok: false; error: { code: string } }
  >;
}

async function initiate(socket: ClientSocket, calleeId: string): Promise<string> {
  const res = await call(socket, "call:initiate", { calleeId, media: "audio" });
  if (!res.ok || !res.callId) throw new Error(`call:initiate failed: ${JSON.stringify(res)}`);
  return res.callId;
}

/**
 * Alice (caller) on gateway 0 with another device on gateway 1; bob's devices on gateways 0 and 1;
 * carol, in a group with both, on gateway 1.
 */
async function cast() {
  const { api } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const carol = await api.register("carol");
  await api.direct(alice.token, bob.id);
  await api.group(alice.token, "crew", [bob.id, carol.id]);
  return {
    alice,
    bob,
    carol,
    a: await fixture.connectTo(0, alice.token),
    a2: await fixture.connectTo(1, alice.token),
    b1: await fixture.connectTo(0, bob.token),
    b2: await fixture.connectTo(1, bob.token),
    c: await fixture.connectTo(1, carol.token),
  };
}

async function ring(socket: ClientSocket, callee: RegisteredUser, devices: ConnectedClient[]): Promise<string> {
  const incoming = devices.map((d) => nextEvent(d.socket, "call:incoming"));
  const callId = await initiate(socket, callee.id);
  await Promise.all(incoming);
  return callId;
}

async function expectReleased(callId: string, ...users: RegisteredUser[]) {
  expect(await redis.exists(keys.call(callId))).toBe(0);
  for (const user of users) expect(await redis.get(keys.userCall(user.id))).toBeNull();
}

describe("a call through nginx across two gateways", () => {
  it("rings every device, relays only between the two parties, and ends with hangup", async () => {
    const { alice, bob, a, a2, b1, b2, c } = await cast();
    const seen = { a2: eventsWithPrefix(a2.socket, "call:"), b1: eventsWithPrefix(b1.socket, "call:"), c: eventsWithPrefix(c.socket, "call:") };

    const incoming = [nextEvent(b1.socket, "call:incoming"), nextEvent(b2.socket, "call:incoming")];
    const callId = await initiate(a.socket, bob.id);
    for (const event of await Promise.all(incoming)) expect(event).toEqual({ callId, callerId: alice.id, media: "audio" });

    const offers = [nextEvent(b1.socket, "call:offer"), nextEvent(b2.socket, "call:offer")];
    expect(await call(a.socket, "call:offer", { callId, sdp: SDP })).toEqual({ ok: true });
    for (const offer of await Promise.all(offers)) expect(offer).toEqual({ callId, sdp: SDP });

    const answer = nextEvent(a.socket, "call:answer");
    const elsewhere = nextEvent(b1.socket, "call:answered-elsewhere");
    expect(await call(b2.socket, "call:answer", { callId, sdp: "answer" })).toEqual({ ok: true });
    expect(await answer).toEqual({ callId, sdp: "answer" });
    expect(await elsewhere).toEqual({ callId });
    expect(await call(b1.socket, "call:answer", { callId, sdp: "late" })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });

    const toB2 = nextEvent(b2.socket, "call:ice-candidate");
    expect(await call(a.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toEqual({ ok: true });
    expect(await toB2).toEqual({ callId, candidate: CANDIDATE });
    const toA = nextEvent(a.socket, "call:ice-candidate");
    expect(await call(b2.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toEqual({ ok: true });
    expect(await toA).toEqual({ callId, candidate: CANDIDATE });

    // Nobody else may signal, and nothing of theirs is relayed.
    for (const [client, code] of [[b1, "FORBIDDEN"], [a2, "FORBIDDEN"], [c, "NOT_FOUND"]] as const) {
      expect(await call(client.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toMatchObject({ ok: false, error: { code } });
      expect(await call(client.socket, "call:offer", { callId, sdp: SDP })).toMatchObject({ ok: false, error: { code } });
    }

    const ended = nextEvent(b2.socket, "call:ended");
    expect(await call(a.socket, "call:end", { callId })).toEqual({ ok: true });
    expect(await ended).toEqual({ callId, reason: "hangup" });
    await expectReleased(callId, alice, bob);

    // Carol calling alice is the marker: everything of the first call reached every node before it.
    const marker = nextEvent(a2.socket, "call:incoming");
    await initiate(c.socket, alice.id);
    await marker;
    expect(seen.b1.map(([event]) => event)).toEqual(["call:incoming", "call:offer", "call:answered-elsewhere"]);
    expect(seen.a2.map(([event]) => event)).toEqual(["call:incoming"]);
    expect(seen.c).toEqual([]);
  });

  it("reject, cancel, and BUSY while a call rings", async () => {
    const { alice, bob, carol, a, b1, b2, c } = await cast();
    let callId = await ring(a.socket, bob, [b1, b2]);
    expect(await call(c.socket, "call:initiate", { calleeId: bob.id, media: "video" })).toMatchObject({ ok: false, error: { code: "BUSY" } });
    expect(await call(c.socket, "call:initiate", { calleeId: alice.id, media: "video" })).toMatchObject({ ok: false, error: { code: "BUSY" } });
    const rejected = [nextEvent(a.socket, "call:rejected"), nextEvent(b1.socket, "call:rejected")];
    expect(await call(b2.socket, "call:reject", { callId })).toEqual({ ok: true });
    for (const event of await Promise.all(rejected)) expect(event).toEqual({ callId });
    await expectReleased(callId, alice, bob, carol);

    callId = await ring(a.socket, bob, [b1, b2]);
    const cancelled = [nextEvent(b1.socket, "call:cancelled"), nextEvent(b2.socket, "call:cancelled")];
    expect(await call(a.socket, "call:cancel", { callId })).toEqual({ ok: true });
    for (const event of await Promise.all(cancelled)) expect(event).toEqual({ callId });
    await expectReleased(callId, alice, bob);
  });

  it("an unanswered call is missed on both sides after the ring timeout", async () => {
    const { alice, bob, a, b1, b2 } = await cast();
    const startedAt = Date.now();
    const missed = [a, b1, b2].map((client) => nextEvent(client.socket, "call:missed", RING_MS + 5_000));
    const callId = await ring(a.socket, bob, [b1, b2]);
    for (const event of await Promise.all(missed)) expect(event).toEqual({ callId });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(RING_MS - 100);
    await expectReleased(callId, alice, bob);
  });

  it("a party socket disconnecting ends the call", async () => {
    const { alice, bob, a, b1, b2 } = await cast();
    const callId = await ring(a.socket, bob, [b1, b2]);
    const answer = nextEvent(a.socket, "call:answer");
    await call(b1.socket, "call:answer", { callId, sdp: SDP });
    await answer;
    const ended = nextEvent(a.socket, "call:ended");
    b1.socket.disconnect();
    expect(await ended).toEqual({ callId, reason: "disconnected" });
    await expectReleased(callId, alice, bob);
  });
});

describe("a gateway killed with SIGKILL", () => {
  it("does not leave its call stuck: the other party hears disconnected and may call again", async () => {
    const { cluster, api } = fixture;
    const alice = await api.register("alice");
    const bob = await api.register("bob");
    await api.direct(alice.token, bob.id);
    const a = await connectClient(cluster.url, alice.token);
    const doomed = fixture.gatewayIndexOf(a);
    const b = await fixture.connectTo(1 - doomed, bob.token);
    const callId = await ring(a.socket, bob, [b]);
    const answer = nextEvent(a.socket, "call:answer");
    await call(b.socket, "call:answer", { callId, sdp: SDP });
    await answer;

    try {
      const ended = nextEvent(b.socket, "call:ended", NODE_TTL_MS + HEARTBEAT_MS + 10_000);
      await cluster.gateways[doomed]!.kill();
      expect(await ended).toEqual({ callId, reason: "disconnected" });
      await expectReleased(callId, alice, bob);
      // Alice is back (through nginx, on the surviving gateway): bob can call her at once.
      const back = await connectClient(cluster.url, alice.token);
      await eventually(async () => (await redis.hlen(keys.userConnections(alice.id))) === 1, 5_000, "alice back");
      const incoming = nextEvent(back.socket, "call:incoming");
      const next = await initiate(b.socket, alice.id);
      expect(await incoming).toMatchObject({ callId: next, callerId: bob.id });
    } finally {
      await cluster.gateways[doomed]!.start();
    }
  });
});
