/**
 * Typing indicators on two gateways in this process, on one real Redis and FerretDB: transitions only,
 * refresh, stop, expiry, disconnect, and members only.
 */
import type { Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, connectClient, type ClientSocket } from "../../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../../test/helpers/env.js";
import { collect, eventually, nextEvent, nextEventWhere } from "../../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedBlock, seedConversation, seedGroupId, seedUser } from "../../../../test/helpers/seed.js";

interface Typing {
  conversationId: string;
  userId: string;
  isTyping: boolean;
}

const TIMEOUT_MS = 400;

const redisServer = useRedisServer("typing");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("typing")));
  const env = { TYPING_TIMEOUT_MS: String(TIMEOUT_MS) };
  nodes = [
    await startGatewayNode("node-a", redisServer.url, models, env),
    await startGatewayNode("node-b", redisServer.url, models, env),
    // Slow expiry, to tell a disconnect's immediate stop from an expiry.
    await startGatewayNode("node-slow", redisServer.url, models, { TYPING_TIMEOUT_MS: "60000" }),
  ];
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

function emit(socket: ClientSocket, event: "typing:start" | "typing:stop", conversationId: string) {
  return socket.timeout(5_000).emitWithAck(event, { conversationId });
}

/** Alice and bob (two devices, one per node) in a direct conversation, and carol in a group with both. */
async function setup(aliceNode = 0) {
  const alice = await seedUser(models, "alice");
  const bob = await seedUser(models, "bob");
  const carol = await seedUser(models, "carol");
  const conversationId = await seedConversation(models, [alice, bob]);
  const groupId = await seedConversation(models, [alice, bob, carol]);
  const a = await connectClient(nodes[aliceNode]!.url, alice.token);
  const aliceOther = await connectClient(nodes[1]!.url, alice.token);
  const b1 = await connectClient(nodes[0]!.url, bob.token);
  const b2 = await connectClient(nodes[1]!.url, bob.token);
  const c = await connectClient(nodes[0]!.url, carol.token);
  return { alice, bob, carol, conversationId, groupId, a, aliceOther, b1, b2, c };
}

describe("typing across nodes", () => {
  it("announces a start once, ignores repeated starts, and announces the stop, to the other members only", async () => {
    const { alice, bob, conversationId, a, aliceOther, b1, b2, c } = await setup();
    const atB1 = collect<Typing>(b1.socket, "typing");
    const atB2 = collect<Typing>(b2.socket, "typing");
    const atSelf = collect<Typing>(aliceOther.socket, "typing");
    const atCarol = collect<Typing>(c.socket, "typing");

    const started = nextEvent<Typing>(b2.socket, "typing");
    expect(await emit(a.socket, "typing:start", conversationId)).toEqual({ ok: true });
    expect(await started).toEqual({ conversationId, userId: alice.id, isTyping: true });
    expect(await emit(a.socket, "typing:start", conversationId)).toEqual({ ok: true });
    expect(await emit(a.socket, "typing:start", conversationId)).toEqual({ ok: true });

    const stopped = nextEvent<Typing>(b2.socket, "typing");
    expect(await emit(a.socket, "typing:stop", conversationId)).toEqual({ ok: true });
    expect(await stopped).toEqual({ conversationId, userId: alice.id, isTyping: false });
    // A stop when not typing changes nothing.
    expect(await emit(a.socket, "typing:stop", conversationId)).toEqual({ ok: true });

    // Bob typing back is the marker: anything alice caused arrived before it.
    const marker = nextEvent<Typing>(a.socket, "typing");
    await emit(b1.socket, "typing:start", conversationId);
    expect(await marker).toEqual({ conversationId, userId: bob.id, isTyping: true });
    await eventually(() => atSelf.length === 1, 5_000, "bob's typing at alice's other device");
    expect(atB1).toEqual([
      { conversationId, userId: alice.id, isTyping: true },
      { conversationId, userId: alice.id, isTyping: false },
    ]);
    expect(atB2).toEqual(atB1);
    expect(atSelf).toEqual([{ conversationId, userId: bob.id, isTyping: true }]);
    expect(atCarol).toEqual([]);
  });

  it("stops by itself when not refreshed, and a refresh extends it", async () => {
    const { alice, conversationId, a, b2 } = await setup();
    const started = Date.now();
    const typing = nextEvent(b2.socket, "typing");
    await emit(a.socket, "typing:start", conversationId);
    await typing;
    const expired = nextEvent<Typing>(b2.socket, "typing", 5_000);
    // Refresh twice, each time before the previous state expires.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS / 3));
    await emit(a.socket, "typing:start", conversationId);
    await new Promise((r) => setTimeout(r, TIMEOUT_MS / 3));
    const refreshedAt = Date.now();
    await emit(a.socket, "typing:start", conversationId);
    expect(await expired).toEqual({ conversationId, userId: alice.id, isTyping: false });
    expect(Date.now() - refreshedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual((5 * TIMEOUT_MS) / 3 - 50);
  });

  it("stops every conversation of a socket at once when it disconnects", async () => {
    const { alice, conversationId, groupId, a, b1, c } = await setup(2);
    const typing = nextEvent(c.socket, "typing");
    await emit(a.socket, "typing:start", conversationId);
    await emit(a.socket, "typing:start", groupId);
    await typing;
    const atBob = collect<Typing>(b1.socket, "typing");
    const atCarol = nextEvent<Typing>(c.socket, "typing", 3_000);
    a.socket.disconnect();
    expect(await atCarol).toEqual({ conversationId: groupId, userId: alice.id, isTyping: false });
    const stops = await eventually(() => {
      const seen = atBob.filter((t) => !t.isTyping);
      return seen.length === 2 && seen;
    }, 3_000, "both stops at bob");
    expect(stops.map((t) => t.conversationId).sort()).toEqual([conversationId, groupId].sort());
  });
});

describe("typing refusals", () => {
  it("refuses a non-member with FORBIDDEN and an unknown conversation with NOT_FOUND, announcing nothing", async () => {
    const { conversationId, b1 } = await setup();
    const mallory = await seedUser(models, "mallory");
    const m = await connectClient(nodes[1]!.url, mallory.token);
    const atBob = collect(b1.socket, "typing");
    expect(await emit(m.socket, "typing:start", conversationId)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await emit(m.socket, "typing:stop", conversationId)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await emit(m.socket, "typing:start", await seedGroupId(models))).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await emit(m.socket, "typing:start", "0123456789abcdef01234567")).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await emit(m.socket, "typing:start", "not-an-id" as string)).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(atBob).toEqual([]);
  });
});

describe("typing and blocks", () => {
  it("never reaches a block peer of the typer, either way, while the group's other members hear it all", async () => {
    const { alice, bob, carol, conversationId, groupId, a, b1, b2, c } = await setup();
    await seedBlock(models, nodes[0]!.redis, redisKeys("parley"), bob, alice);
    const atBob = [collect<Typing>(b1.socket, "typing"), collect<Typing>(b2.socket, "typing")];
    const atAlice = collect<Typing>(a.socket, "typing");
    const atCarol = collect<Typing>(c.socket, "typing");

    // The blocked user types in the group and in the direct conversation: start and stop, both refused to bob.
    const aliceStopped = nextEventWhere<Typing>(c.socket, "typing", (t) => t.userId === alice.id && !t.isTyping);
    for (const event of ["typing:start", "typing:stop"] as const) {
      expect(await emit(a.socket, event, groupId)).toEqual({ ok: true });
      expect(await emit(a.socket, event, conversationId)).toEqual({ ok: true });
    }
    await aliceStopped;
    // The blocker types in the group: carol hears it, alice does not.
    const bobStarted = nextEventWhere<Typing>(c.socket, "typing", (t) => t.userId === bob.id);
    expect(await emit(b1.socket, "typing:start", groupId)).toEqual({ ok: true });
    await bobStarted;

    // Carol typing is the marker: anything alice or bob caused reached every socket before it.
    const markers = [a, b1, b2].map(({ socket }) => nextEventWhere<Typing>(socket, "typing", (t) => t.userId === carol.id));
    await emit(c.socket, "typing:start", groupId);
    await Promise.all(markers);
    for (const seen of atBob) expect(seen).toEqual([{ conversationId: groupId, userId: carol.id, isTyping: true }]);
    expect(atAlice).toEqual([{ conversationId: groupId, userId: carol.id, isTyping: true }]);
    expect(atCarol).toEqual([
      { conversationId: groupId, userId: alice.id, isTyping: true },
      { conversationId: groupId, userId: alice.id, isTyping: false },
      { conversationId: groupId, userId: bob.id, isTyping: true },
    ]);
  });
});
