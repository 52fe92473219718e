/**
 * Two gateways in this process on one real Redis and FerretDB: handshake, protocol version, session,
 * the message path across nodes, and a gateway of its own whose Redis goes down. The multi-process
 * cluster behind nginx is tested in test/cluster.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import jwt from "jsonwebtoken";
import type { Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { signAccessToken } from "@parley/shared/auth";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { PROTOCOL_VERSION, type Message } from "@parley/protocol";
import type { Models } from "@parley/shared/models";
import { redisKeys } from "@parley/shared/redis-keys";

import { startRedisServer } from "../../../scripts/lib/redis-server.js";
import { closeAllClients, connectClient, connectError, type ClientSocket } from "../../../test/helpers/clients.js";
import { TEST_JWT_SECRET, testDir, testMongoUrl } from "../../../test/helpers/env.js";
import { collect, eventually, nextEvent } from "../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { seedConversation, seedUser, type SeededUser } from "../../../test/helpers/seed.js";

const redis = useRedisServer("gateway");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("gateway")));
  nodes = [
    await startGatewayNode("node-a", redis.url, models),
    await startGatewayNode("node-b", redis.url, models),
  ];
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

function send(socket: ClientSocket, payload: unknown) {
  return socket.timeout(5_000).emitWithAck("message:send", payload as never);
}

async function pair(): Promise<{ alice: SeededUser; bob: SeededUser; conversationId: string }> {
  const alice = await seedUser(models, "alice");
  const bob = await seedUser(models, "bob");
  return { alice, bob, conversationId: await seedConversation(models, [alice, bob]) };
}

describe("handshake", () => {
  it.each([
    ["no token", {}, "AUTH_REQUIRED"],
    ["a malformed token", { token: "not-a-jwt" }, "INVALID_TOKEN"],
    ["a token that is not a string", { token: 42 }, "INVALID_TOKEN"],
    ["a token signed with another secret", { token: signAccessToken({ userId: "0123456789abcdef01234567", sessionId: "0123456789abcdef01234568" }, "x".repeat(40), 60).token }, "INVALID_TOKEN"],
    ["an unsigned token (alg none)", { token: jwt.sign({ sub: "0123456789abcdef01234567" }, "", { algorithm: "none" }) }, "INVALID_TOKEN"],
    ["an expired token", { token: jwt.sign({ sub: "0123456789abcdef01234567", exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET) }, "TOKEN_EXPIRED"],
    ["a token of a user that does not exist", { token: signAccessToken({ userId: "0123456789abcdef01234567", sessionId: "0123456789abcdef01234568" }, TEST_JWT_SECRET, 60).token }, "USER_NOT_FOUND"],
  ])("refuses %s with its code", async (_, auth, code) => {
    const err = await connectError(nodes[0]!.url, auth);
    expect(err.data?.code).toBe(code);
  });

  it("refuses the token of a deleted account (a tombstone) with USER_NOT_FOUND", async () => {
    const user = await seedUser(models);
    await connectClient(nodes[0]!.url, user.token);
    await models.User.updateOne({ _id: user.id }, { $set: { deletedAt: new Date(), usernameLower: `deleted:${user.id}` } });
    const err = await connectError(nodes[1]!.url, { token: user.token });
    expect(err.data?.code).toBe("USER_NOT_FOUND");
  });

  it("accepts the token from the query string too, and names the node", async () => {
    const user = await seedUser(models);
    const { session } = await connectClient(nodes[1]!.url, "", { auth: {}, query: { token: user.token } });
    expect(session).toEqual({ userId: user.id, node: "node-b", sessionId: expect.stringMatching(/^[0-9a-f]{24}$/), expiresAt: expect.any(String), protocol: PROTOCOL_VERSION });
  });
});

describe("protocol version", () => {
  it.each([
    ["the server's own", PROTOCOL_VERSION],
    ["a later minor of the same major", "1.7"],
    ["none (a plain socket.io-client)", undefined],
  ])("accepts %s, and session:ready names the server's", async (_, protocol) => {
    const user = await seedUser(models);
    const { session } = await connectClient(nodes[0]!.url, "", { auth: { token: user.token, ...(protocol === undefined ? {} : { protocol }) } });
    expect(session).toMatchObject({ userId: user.id, protocol: PROTOCOL_VERSION });
  });

  it.each([
    ["another major", "2.0"],
    ["a malformed version", "x"],
    ["a version that is not a string", 1],
    ["a version over 16 characters", `1.${"0".repeat(15)}`],
  ])("refuses %s with UNSUPPORTED_PROTOCOL, naming the server's, before it looks at the token", async (_, protocol) => {
    const user = await seedUser(models);
    for (const token of [user.token, "not-a-jwt", undefined]) {
      const err = await connectError(nodes[0]!.url, { token, protocol });
      expect(err.data?.code).toBe("UNSUPPORTED_PROTOCOL");
      expect(err.message).toContain(PROTOCOL_VERSION);
    }
  });
});

describe("what a connected socket keeps", () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;

  it.each([
    ["over WebSocket", ["websocket"]],
    ["upgraded from long-polling", ["polling", "websocket"]],
  ])("%s: not its first HTTP request, once the handshake is read", async (_, transports) => {
    const server = nodes[0]!.gateway.httpServer;
    // The session's first poll and its WebSocket upgrade, held weakly.
    const requests: WeakRef<IncomingMessage>[] = [];
    const track = (req: IncomingMessage) => requests.push(new WeakRef(req));
    const trackFirstPoll = (req: IncomingMessage) => {
      if (!req.url?.includes("sid=")) track(req);
    };
    server.prependListener("upgrade", track);
    server.prependListener("request", trackFirstPoll);
    try {
      const user = await seedUser(models);
      const { socket } = await connectClient(nodes[0]!.url, user.token, { transports });
      if (socket.io.engine.transport.name !== "websocket") await new Promise((resolve) => socket.io.engine.once("upgrade", resolve));

      const held = nodes[0]!.gateway.io.of("/").sockets.get(socket.id!)!;
      expect(held.handshake.headers.host).toBe(new URL(nodes[0]!.url).host);
      expect(held.handshake.auth).toEqual({ token: user.token });
      expect(requests).toHaveLength(transports.length);
      await nextTurn();
      gc();
      expect(requests.map((r) => r.deref())).toEqual(transports.map(() => undefined));
      // The socket still works, and its close still reaches the server.
      expect(await socket.timeout(5_000).emitWithAck("presence:query", { userIds: [user.id] })).toMatchObject({ ok: true });
      const gone = nextEvent(held, "disconnect");
      socket.disconnect();
      await gone;
    } finally {
      server.removeListener("upgrade", track);
      server.removeListener("request", trackFirstPoll);
    }
  });
});

describe("an Engine.IO middleware", () => {
  it("still sees the response of a WebSocket upgrade close, as pino-http needs", { timeout: 10_000 }, async () => {
    const engine = nodes[1]!.gateway.io.engine;
    const closed = new Promise<void>((resolve) => {
      engine.use((_req: IncomingMessage, res: ServerResponse, next: () => void) => {
        res.once("close", () => resolve());
        next();
      });
    });
    try {
      const user = await seedUser(models);
      const { socket } = await connectClient(nodes[1]!.url, user.token);
      socket.disconnect();
      await closed;
    } finally {
      (engine as unknown as { middlewares: unknown[] }).middlewares.length = 0;
    }
  });
});

describe("message:send across two nodes", () => {
  it("acks with the stored form, delivers to every other socket on every node, and queues the job", async () => {
    const { alice, bob, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const aliceOtherDevice = await connectClient(nodes[1]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const toSender = collect<Message>(a.socket, "message:new");
    const atBob = nextEvent<Message>(b.socket, "message:new");
    const atAliceOther = nextEvent<Message>(aliceOtherDevice.socket, "message:new");

    const ack = await send(a.socket, { conversationId, clientMsgId: "m-1", content: "  hello  " });

    expect(ack).toMatchObject({
      ok: true,
      message: { conversationId, seq: 1, senderId: alice.id, clientMsgId: "m-1", content: "hello", type: "text" },
    });
    if (!ack.ok) throw new Error("unreachable");
    expect(new Date(ack.message.createdAt).toISOString()).toBe(ack.message.createdAt);
    expect(await atBob).toEqual(ack.message);
    expect(await atAliceOther).toEqual(ack.message);
    const job = await nodes[0]!.queue.getJob(ack.message.id);
    expect(job?.data).toEqual(ack.message);
    // Bob's reply travels the other way and proves the sender never got its own message back.
    const atAlice = nextEvent<Message>(a.socket, "message:new");
    await send(b.socket, { conversationId, clientMsgId: "m-2", content: "hi" });
    expect((await atAlice).seq).toBe(2);
    expect(toSender.map((m) => m.senderId)).toEqual([bob.id]);
  });

  it("returns the original message for a repeated clientMsgId and delivers nothing new", async () => {
    const { alice, bob, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const atBob = collect<Message>(b.socket, "message:new");

    const first = await send(a.socket, { conversationId, clientMsgId: "retry-me", content: "once" });
    const again = await send(a.socket, { conversationId, clientMsgId: "retry-me", content: "once" });
    const next = await send(a.socket, { conversationId, clientMsgId: "after", content: "twice" });

    expect(again).toEqual(first);
    if (!next.ok) throw new Error("send failed");
    expect(next.message.seq).toBe(2);
    await eventually(() => atBob.length === 2, 5_000, "two deliveries");
    expect(atBob.map((m) => m.clientMsgId)).toEqual(["retry-me", "after"]);
    const jobs = (await nodes[0]!.queue.getJobs(["waiting"]))
      .map((job) => job.data as Message)
      .filter((message) => message.conversationId === conversationId);
    expect(jobs.map((message) => message.clientMsgId).sort()).toEqual(["after", "retry-me"]);
  });

  it("numbers concurrent sends from two nodes 1..n without gaps or repeats", async () => {
    const { alice, bob, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) => send(i % 2 ? b.socket : a.socket, { conversationId, clientMsgId: `c-${i}`, content: `#${i}` })),
    );
    const seqs = acks.map((ack) => (ack.ok ? ack.message.seq : -1)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const stream = await nodes[0]!.redis.xrange(redisKeys("parley").conversationStream(conversationId), "-", "+");
    expect(stream.map(([id]) => id)).toEqual(seqs.map((s) => `${s}-0`));
  });

  it("reloads the member cache from MongoDB when Redis lost it", async () => {
    const { alice, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const keys = redisKeys("parley");
    await send(a.socket, { conversationId, clientMsgId: "before", content: "x" });
    await nodes[0]!.redis.del(keys.conversationMembers(conversationId), keys.conversationMembersVersion(conversationId));
    expect(await send(a.socket, { conversationId, clientMsgId: "after", content: "y" })).toMatchObject({ ok: true, message: { seq: 2 } });
  });
});

describe("refusals", () => {
  it("refuses a non-member with FORBIDDEN and delivers nothing to anyone", async () => {
    const { alice, bob, conversationId } = await pair();
    const mallory = await seedUser(models, "mallory");
    const a = await connectClient(nodes[0]!.url, alice.token);
    const b = await connectClient(nodes[1]!.url, bob.token);
    const m = await connectClient(nodes[1]!.url, mallory.token);
    const seenA = collect(a.socket, "message:new");
    const seenB = collect(b.socket, "message:new");

    const ack = await send(m.socket, { conversationId, clientMsgId: "x", content: "let me in" });
    expect(ack).toEqual({ ok: false, error: { code: "FORBIDDEN", message: expect.any(String) } });

    // A legitimate message sent afterwards is the first and only one anybody receives.
    const legit = await send(a.socket, { conversationId, clientMsgId: "ok", content: "members only" });
    await eventually(() => seenB.length === 1, 5_000, "the legitimate delivery");
    expect(seenB).toEqual([legit.ok && legit.message]);
    expect(seenA).toEqual([]);
    if (!legit.ok) throw new Error("send failed");
    expect(legit.message.seq).toBe(1);
  });

  it("refuses FORBIDDEN, not UNAVAILABLE, in a group everyone has left", async () => {
    const { alice, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    await new ConversationCache(nodes[0]!.redis, redisKeys("parley"), models).store({ id: conversationId, members: [], membersVersion: 9, lastSeq: 0 });
    const ack = await send(a.socket, { conversationId, clientMsgId: "x", content: "echo?" });
    expect(ack).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
  });

  it("answers NOT_FOUND for a conversation that does not exist", async () => {
    const user = await seedUser(models);
    const c = await connectClient(nodes[0]!.url, user.token);
    const ack = await send(c.socket, { conversationId: "0123456789abcdef01234567", clientMsgId: "x", content: "anyone?" });
    expect(ack).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it.each([
    ["a string", "hello"],
    ["nothing", undefined],
    ["blank content", { conversationId: "0123456789abcdef01234567", clientMsgId: "x", content: "  " }],
    ["content over 4000 characters", { conversationId: "0123456789abcdef01234567", clientMsgId: "x", content: "a".repeat(4001) }],
    ["a 65-character clientMsgId", { conversationId: "0123456789abcdef01234567", clientMsgId: "x".repeat(65), content: "a" }],
  ])("answers VALIDATION for %s and keeps serving the socket", async (_, payload) => {
    const { alice, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const ack = await send(a.socket, payload);
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION", issues: expect.any(Array) } });
    expect(await send(a.socket, { conversationId, clientMsgId: "next", content: "still here" })).toMatchObject({ ok: true });
  });

  it("sends an error event when a failing event had no ack callback", async () => {
    const { alice, conversationId } = await pair();
    const a = await connectClient(nodes[0]!.url, alice.token);
    const error = nextEvent(a.socket, "error");
    a.socket.emit("message:send", { conversationId, clientMsgId: "", content: "no ack" });
    expect(await error).toMatchObject({ code: "VALIDATION", event: "message:send", message: expect.stringContaining("clientMsgId") });
  });
});

describe("when its Redis goes down", () => {
  it("answers message:send and new handshakes with UNAVAILABLE, and serves again once Redis is back", { timeout: 60_000 }, async () => {
    const dir = testDir("redis-gateway-outage");
    let server = await startRedisServer({ dir });
    // Without rate limits a send gets past the limiter (which refuses UNAVAILABLE by itself when Redis
    // is down) to the message pipeline, whose raw Redis error is what this answers.
    const node = await startGatewayNode("node-outage", server.url, models, { RATE_LIMITS_ENABLED: "false" });
    try {
      const { alice, bob, conversationId } = await pair();
      const a = await connectClient(node.url, alice.token);
      expect(await send(a.socket, { conversationId, clientMsgId: "before", content: "x" })).toMatchObject({ ok: true });

      await server.stop();
      const ack = await send(a.socket, { conversationId, clientMsgId: "during", content: "y" });
      expect(ack).toEqual({ ok: false, error: { code: "UNAVAILABLE", message: "Service temporarily unavailable, retry shortly" } });
      const refused = await connectError(node.url, { token: bob.token });
      expect(refused.data?.code).toBe("UNAVAILABLE");
      expect(refused.message).not.toMatch(/max retries|ECONNREFUSED|Connection is closed/i);

      server = await startRedisServer({ dir, port: server.port });
      // The same clientMsgId, as a client resends after UNAVAILABLE.
      const retried = await eventually(async () => {
        const again = await send(a.socket, { conversationId, clientMsgId: "during", content: "y" });
        return again.ok && again;
      }, 20_000, "a send once Redis is back");
      expect(retried.message).toMatchObject({ clientMsgId: "during", content: "y" });
      expect((await connectClient(node.url, bob.token)).session.userId).toBe(bob.id);
    } finally {
      await node.close();
      await server.stop();
    }
  });
});
