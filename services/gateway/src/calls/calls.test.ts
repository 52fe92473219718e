/**
 * Call signaling on gateways in this process, on one real Redis and FerretDB: the full flow across
 * nodes, relays only between the parties, every way a call ends, BUSY, and calls of sockets that
 * vanished with a dead node. The SIGKILL of a real gateway is tested in test/cluster/calls.test.ts.
 */
import type { Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, eventsWithPrefix, connectClient, type ClientSocket, type ConnectedClient } from "../../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../../test/helpers/env.js";
import { eventually, nextEvent } from "../../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedBlock, seedConversation, seedUser, type SeededUser } from "../../../../test/helpers/seed.js";

const RING_MS = 400;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";
const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host", sdpMid: "0", sdpMLineIndex: 0 };

const redisServer = useRedisServer("calls");
const keys = redisKeys("parley");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("calls")));
  const presence = { PRESENCE_HEARTBEAT_MS: "100", PRESENCE_NODE_TTL_MS: "600" };
  nodes = [
    await startGatewayNode("node-a", redisServer.url, models, presence),
    await startGatewayNode("node-b", redisServer.url, models, presence),
    // Calls started here ring for RING_MS only.
    await startGatewayNode("node-quick", redisServer.url, models, { ...presence, CALL_RING_TIMEOUT_MS: String(RING_MS) }),
  ];
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

const redis = () => nodes[0]!.redis;

type CallEvent = [event: string, payload: unknown];

function call<E extends "call:initiate" | "call:offer" | "call:answer" | "call:ice-candidate" | "call:reject" | "call:cancel" | "call:end">(
  socket: ClientSocket,
  event: E,
  payload: unknown,
) {
  return (socket.timeout(5_000).emitWithAck as (event: string, payload: unknown) => Promise<unknown>)(event, payload) as Promise<
    { ok: true; callId?: string } | { ok: false; error: { code: string } }
  >;
}

async function initiate(socket: ClientSocket, calleeId: string, media = "video"): Promise<string> {
  const res = await call(socket, "call:initiate", { calleeId, media });
  if (!res.ok || !res.callId) throw new Error(`call:initiate failed: ${JSON.stringify(res)}`);
  return res.callId;
}

interface Cast {
  alice: SeededUser;
  bob: SeededUser;
  carol: SeededUser;
  /** Alice, the caller, on node-a. */
  a: ConnectedClient;
  /** Alice's other device, on node-b: not a party. */
  a2: ConnectedClient;
  /** Bob's devices on node-a and node-b. */
  b1: ConnectedClient;
  b2: ConnectedClient;
  /** Carol shares a group with both: not a party. */
  c: ConnectedClient;
}

async function cast(callerNode = 0): Promise<Cast> {
  const alice = await seedUser(models, "alice");
  const bob = await seedUser(models, "bob");
  const carol = await seedUser(models, "carol");
  await seedConversation(models, [alice, bob]);
  await seedConversation(models, [alice, bob, carol]);
  return {
    alice,
    bob,
    carol,
    a: await connectClient(nodes[callerNode]!.url, alice.token),
    a2: await connectClient(nodes[1]!.url, alice.token),
    b1: await connectClient(nodes[0]!.url, bob.token),
    b2: await connectClient(nodes[1]!.url, bob.token),
    c: await connectClient(nodes[1]!.url, carol.token),
  };
}

/** Alice calls bob; resolves once both of bob's devices ring. */
async function ring(cast: Cast): Promise<string> {
  const incoming = [nextEvent(cast.b1.socket, "call:incoming"), nextEvent(cast.b2.socket, "call:incoming")];
  const callId = await initiate(cast.a.socket, cast.bob.id);
  await Promise.all(incoming);
  return callId;
}

/** Alice calls bob and bob answers on his node-b device. */
async function answered(cast: Cast): Promise<string> {
  const callId = await ring(cast);
  const atCaller = nextEvent(cast.a.socket, "call:answer");
  const elsewhere = nextEvent(cast.b1.socket, "call:answered-elsewhere");
  expect(await call(cast.b2.socket, "call:answer", { callId, sdp: SDP })).toEqual({ ok: true });
  await Promise.all([atCaller, elsewhere]);
  return callId;
}

async function expectReleased(callId: string, ...users: SeededUser[]) {
  expect(await redis().exists(keys.call(callId))).toBe(0);
  expect(await redis().zscore(keys.ringingCalls(), callId)).toBeNull();
  for (const user of users) expect(await redis().get(keys.userCall(user.id))).toBeNull();
}

describe("a call across nodes", () => {
  it("rings every callee device, relays offer, answer and ICE between the two parties only, and ends", async () => {
    const cast_ = await cast();
    const { alice, bob, a, a2, b1, b2, c } = cast_;
    const seen = { a: eventsWithPrefix(a.socket, "call:"), a2: eventsWithPrefix(a2.socket, "call:"), b1: eventsWithPrefix(b1.socket, "call:"), b2: eventsWithPrefix(b2.socket, "call:"), c: eventsWithPrefix(c.socket, "call:") };

    const incoming = [nextEvent(b1.socket, "call:incoming"), nextEvent(b2.socket, "call:incoming")];
    const callId = await initiate(a.socket, bob.id);
    expect(callId).toMatch(UUID);
    for (const event of await Promise.all(incoming)) expect(event).toEqual({ callId, callerId: alice.id, media: "video" });
    expect(await redis().get(keys.userCall(alice.id))).toBe(callId);
    expect(await redis().get(keys.userCall(bob.id))).toBe(callId);
    expect(await redis().pttl(keys.call(callId))).toBeGreaterThan(0);

    // While ringing, the caller's offer and candidates reach every callee device.
    const offers = [nextEvent(b1.socket, "call:offer"), nextEvent(b2.socket, "call:offer")];
    expect(await call(a.socket, "call:offer", { callId, sdp: SDP })).toEqual({ ok: true });
    for (const offer of await Promise.all(offers)) expect(offer).toEqual({ callId, sdp: SDP });
    const candidates = [nextEvent(b1.socket, "call:ice-candidate"), nextEvent(b2.socket, "call:ice-candidate")];
    expect(await call(a.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toEqual({ ok: true });
    for (const candidate of await Promise.all(candidates)) expect(candidate).toEqual({ callId, candidate: CANDIDATE });
    // A callee device has nothing to send candidates for before it answers.
    expect(await call(b2.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });

    // Bob answers on b2: alice gets the answer, b1 stops ringing.
    const answer = nextEvent(a.socket, "call:answer");
    const elsewhere = nextEvent(b1.socket, "call:answered-elsewhere");
    expect(await call(b2.socket, "call:answer", { callId, sdp: "answer-sdp" })).toEqual({ ok: true });
    expect(await answer).toEqual({ callId, sdp: "answer-sdp" });
    expect(await elsewhere).toEqual({ callId });
    expect(await redis().zscore(keys.ringingCalls(), callId)).toBeNull();

    // Only the first answer wins; the other device is no party any more.
    expect(await call(b1.socket, "call:answer", { callId, sdp: "late" })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(await call(b1.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(b1.socket, "call:end", { callId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    // Neither is the caller's other device, and a stranger does not learn the call exists.
    expect(await call(a2.socket, "call:offer", { callId, sdp: SDP })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(a2.socket, "call:end", { callId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(c.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await call(c.socket, "call:end", { callId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    // The callee cannot send offers, and an answered call cannot be rejected or cancelled.
    expect(await call(b2.socket, "call:offer", { callId, sdp: SDP })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(b2.socket, "call:reject", { callId })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(await call(a.socket, "call:cancel", { callId })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });

    // Active: candidates both ways, and a renegotiation, between a and b2 only.
    const toB2 = nextEvent(b2.socket, "call:ice-candidate");
    await call(a.socket, "call:ice-candidate", { callId, candidate: CANDIDATE });
    expect(await toB2).toEqual({ callId, candidate: CANDIDATE });
    const toA = nextEvent(a.socket, "call:ice-candidate");
    await call(b2.socket, "call:ice-candidate", { callId, candidate: { candidate: "" } });
    expect(await toA).toEqual({ callId, candidate: { candidate: "" } });
    const reoffer = nextEvent(b2.socket, "call:offer");
    await call(a.socket, "call:offer", { callId, sdp: "re-offer" });
    expect(await reoffer).toEqual({ callId, sdp: "re-offer" });
    const reanswer = nextEvent(a.socket, "call:answer");
    await call(b2.socket, "call:answer", { callId, sdp: "re-answer" });
    expect(await reanswer).toEqual({ callId, sdp: "re-answer" });

    const ended = nextEvent(a.socket, "call:ended");
    expect(await call(b2.socket, "call:end", { callId })).toEqual({ ok: true });
    expect(await ended).toEqual({ callId, reason: "hangup" });
    await expectReleased(callId, alice, bob);
    expect(await call(a.socket, "call:end", { callId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });

    // A new call from bob to alice is the marker: everything the first call sent arrived before it.
    const marker = nextEvent(a.socket, "call:incoming");
    const next = await initiate(b1.socket, alice.id, "audio");
    await marker;
    await eventually(() => seen.a2.length === 1, 5_000, "the marker at alice's other device");
    const names = (events: CallEvent[]) => events.map(([event]) => event);
    expect(names(seen.a)).toEqual(["call:answer", "call:ice-candidate", "call:answer", "call:ended", "call:incoming"]);
    expect(names(seen.b1)).toEqual(["call:incoming", "call:offer", "call:ice-candidate", "call:answered-elsewhere"]);
    expect(names(seen.b2)).toEqual(["call:incoming", "call:offer", "call:ice-candidate", "call:ice-candidate", "call:offer"]);
    expect(seen.a2).toEqual([["call:incoming", { callId: next, callerId: bob.id, media: "audio" }]]);
    expect(seen.c).toEqual([]);
  });
});

describe("ending a call", () => {
  it("reject: the caller and the callee's other devices hear call:rejected", async () => {
    const cast_ = await cast();
    const callId = await ring(cast_);
    const atCaller = nextEvent(cast_.a.socket, "call:rejected");
    const atOther = nextEvent(cast_.b2.socket, "call:rejected");
    expect(await call(cast_.b1.socket, "call:reject", { callId })).toEqual({ ok: true });
    expect(await atCaller).toEqual({ callId });
    expect(await atOther).toEqual({ callId });
    await expectReleased(callId, cast_.alice, cast_.bob);
    expect(await call(cast_.a.socket, "call:reject", { callId })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("cancel: every callee device hears call:cancelled; only the caller socket may cancel", async () => {
    const cast_ = await cast();
    const callId = await ring(cast_);
    expect(await call(cast_.b1.socket, "call:cancel", { callId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(cast_.a2.socket, "call:cancel", { callId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(cast_.a.socket, "call:reject", { callId })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const cancelled = [nextEvent(cast_.b1.socket, "call:cancelled"), nextEvent(cast_.b2.socket, "call:cancelled")];
    expect(await call(cast_.a.socket, "call:cancel", { callId })).toEqual({ ok: true });
    for (const event of await Promise.all(cancelled)) expect(event).toEqual({ callId });
    await expectReleased(callId, cast_.alice, cast_.bob);
  });

  it("end while ringing is a cancel by the caller", async () => {
    const cast_ = await cast();
    const callId = await ring(cast_);
    const cancelled = nextEvent(cast_.b2.socket, "call:cancelled");
    expect(await call(cast_.a.socket, "call:end", { callId })).toEqual({ ok: true });
    expect(await cancelled).toEqual({ callId });
    await expectReleased(callId, cast_.alice, cast_.bob);
  });

  it("end by the caller of an active call: the answering device hears call:ended", async () => {
    const cast_ = await cast();
    const callId = await answered(cast_);
    const ended = nextEvent(cast_.b2.socket, "call:ended");
    expect(await call(cast_.a.socket, "call:end", { callId })).toEqual({ ok: true });
    expect(await ended).toEqual({ callId, reason: "hangup" });
    await expectReleased(callId, cast_.alice, cast_.bob);
  });

  it("missed: unanswered after the ring timeout, both sides hear call:missed once", async () => {
    const cast_ = await cast(2);
    const seenB1 = eventsWithPrefix(cast_.b1.socket, "call:");
    const started = Date.now();
    const callId = await ring(cast_);
    const missed = [nextEvent(cast_.a.socket, "call:missed", 5_000), nextEvent(cast_.b1.socket, "call:missed", 5_000), nextEvent(cast_.b2.socket, "call:missed", 5_000)];
    for (const event of await Promise.all(missed)) expect(event).toEqual({ callId });
    expect(Date.now() - started).toBeGreaterThanOrEqual(RING_MS - 50);
    await expectReleased(callId, cast_.alice, cast_.bob);
    expect(await call(cast_.b1.socket, "call:answer", { callId, sdp: SDP })).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    // Bob calling back is the marker: a second call:missed would have arrived before it.
    const marker = nextEvent(cast_.a.socket, "call:incoming");
    await initiate(cast_.b2.socket, cast_.alice.id);
    await marker;
    expect(seenB1.map(([event]) => event)).toEqual(["call:incoming", "call:missed"]);
  });

  it("an answered call is never missed", async () => {
    const cast_ = await cast(2);
    const callId = await answered(cast_);
    const seenA = eventsWithPrefix(cast_.a.socket, "call:");
    // Past the ring timeout the call is still up: ICE still flows.
    await eventually(async () => (await redis().zcard(keys.ringingCalls())) === 0, 5_000, "no ringing call left");
    const ice = nextEvent(cast_.b2.socket, "call:ice-candidate");
    await new Promise((r) => setTimeout(r, RING_MS * 2));
    expect(await call(cast_.a.socket, "call:ice-candidate", { callId, candidate: CANDIDATE })).toEqual({ ok: true });
    await ice;
    expect(seenA).toEqual([]);
  });
});

describe("who may call whom", () => {
  it("answers BUSY when either party is in a call, and frees both when it ends", async () => {
    const cast_ = await cast();
    const { alice, bob, carol, a, b1, c } = cast_;
    const dave = await seedUser(models, "dave");
    await seedConversation(models, [carol, dave]);
    await seedConversation(models, [bob, carol]);
    const callId = await ring(cast_);

    expect(await call(c.socket, "call:initiate", { calleeId: bob.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "BUSY" } });
    expect(await call(c.socket, "call:initiate", { calleeId: alice.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "BUSY" } });
    expect(await call(b1.socket, "call:initiate", { calleeId: carol.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "BUSY" } });
    // The refused caller was not left marked busy.
    expect(await redis().get(keys.userCall(carol.id))).toBeNull();
    const other = await initiate(c.socket, dave.id);
    await call(c.socket, "call:cancel", { callId: other });

    await call(a.socket, "call:cancel", { callId });
    await expectReleased(callId, alice, bob);
    expect(await initiate(c.socket, bob.id)).toMatch(UUID);
  });

  it("refuses calling yourself, an unknown user, or someone you share no conversation with", async () => {
    const alice = await seedUser(models, "alice");
    const stranger = await seedUser(models, "stranger");
    const a = await connectClient(nodes[0]!.url, alice.token);
    const s = await connectClient(nodes[1]!.url, stranger.token);
    const atStranger = eventsWithPrefix(s.socket, "call:");
    expect(await call(a.socket, "call:initiate", { calleeId: alice.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await call(a.socket, "call:initiate", { calleeId: "0123456789abcdef01234567", media: "audio" })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await call(a.socket, "call:initiate", { calleeId: stranger.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(a.socket, "call:initiate", { calleeId: stranger.id, media: "hologram" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await call(a.socket, "call:end", { callId: "not-a-uuid" })).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await redis().get(keys.userCall(alice.id))).toBeNull();
    expect(atStranger).toEqual([]);
  });

  it("refuses a call with FORBIDDEN in either direction while one blocks the other, ringing no one", async () => {
    const { alice, bob, carol, a, b1, b2, c } = await cast();
    await seedBlock(models, redis(), keys, bob, alice);
    const atBob = [eventsWithPrefix(b1.socket, "call:"), eventsWithPrefix(b2.socket, "call:")];
    const atAlice = eventsWithPrefix(a.socket, "call:");
    expect(await call(a.socket, "call:initiate", { calleeId: bob.id, media: "audio" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await call(b1.socket, "call:initiate", { calleeId: alice.id, media: "video" })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await redis().get(keys.userCall(alice.id))).toBeNull();
    expect(await redis().get(keys.userCall(bob.id))).toBeNull();

    // Carol, who shares the group with both, still calls bob: his devices ring for her call only.
    const ringing = [nextEvent(b1.socket, "call:incoming"), nextEvent(b2.socket, "call:incoming")];
    const callId = await initiate(c.socket, bob.id);
    await Promise.all(ringing);
    for (const seen of atBob) expect(seen).toEqual([["call:incoming", { callId, callerId: carol.id, media: "video" }]]);
    expect(atAlice).toEqual([]);
    await call(c.socket, "call:cancel", { callId });
  });
});

describe("sockets that go away", () => {
  it("the answering device disconnecting ends the call for the caller", async () => {
    const cast_ = await cast();
    const callId = await answered(cast_);
    const ended = nextEvent(cast_.a.socket, "call:ended");
    cast_.b2.socket.disconnect();
    expect(await ended).toEqual({ callId, reason: "disconnected" });
    await expectReleased(callId, cast_.alice, cast_.bob);
  });

  it("the caller disconnecting ends a ringing call on every callee device", async () => {
    const cast_ = await cast();
    const callId = await ring(cast_);
    const ended = [nextEvent(cast_.b1.socket, "call:ended"), nextEvent(cast_.b2.socket, "call:ended")];
    cast_.a.socket.disconnect();
    for (const event of await Promise.all(ended)) expect(event).toEqual({ callId, reason: "disconnected" });
    await expectReleased(callId, cast_.alice, cast_.bob);
  });

  it("a callee device that did not answer may disconnect without ending the call", async () => {
    const cast_ = await cast();
    const callId = await ring(cast_);
    cast_.b1.socket.disconnect();
    const answer = nextEvent(cast_.a.socket, "call:answer");
    expect(await call(cast_.b2.socket, "call:answer", { callId, sdp: SDP })).toEqual({ ok: true });
    await answer;
  });

  it("a party socket whose gateway died has its call ended by another gateway", async () => {
    const cast_ = await cast();
    const doomed = await startGatewayNode("node-doomed", redisServer.url, models, { PRESENCE_HEARTBEAT_MS: "100", PRESENCE_NODE_TTL_MS: "600" });
    try {
      const bobOnDoomed = await connectClient(doomed.url, cast_.bob.token);
      const callId = await ring(cast_);
      const answer = nextEvent(cast_.a.socket, "call:answer");
      await call(bobOnDoomed.socket, "call:answer", { callId, sdp: SDP });
      await answer;
      const ended = nextEvent(cast_.a.socket, "call:ended", 5_000);
      // Cut off from Redis, node-doomed stops heartbeating and refreshing: as good as dead to the others.
      doomed.redis.disconnect();
      expect(await ended).toEqual({ callId, reason: "disconnected" });
      await expectReleased(callId, cast_.alice, cast_.bob);
    } finally {
      await Promise.race([doomed.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    }
  });
});
