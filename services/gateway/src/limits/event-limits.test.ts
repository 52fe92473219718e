/**
 * Rate limits in `onEvent`, on a real redis-server: Socket.IO servers in this process with a handler
 * for every client event that only counts its calls, so each event's bucket, the order (limit, then
 * validation, then handler) and the failure modes are tested without depending on any feature.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { createAdapter } from "@socket.io/redis-adapter";
import { Types } from "mongoose";
import { pino } from "pino";
import { Server } from "socket.io";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { PROTOCOL_VERSION, clientEventSchemas, type ClientToServerEvents, type EventError } from "@parley/protocol";
import { RateLimiter, type RateLimits } from "@parley/shared/rate-limit";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";

import { freePort } from "../../../../scripts/lib/ports.js";
import { closeAllClients, connectClient, type ClientSocket } from "../../../../test/helpers/clients.js";
import { uniqueSuffix } from "../../../../test/helpers/env.js";
import { nextEvent } from "../../../../test/helpers/events.js";
import { validPayload } from "../../../../test/helpers/payloads.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { createEventDispatcher } from "../lib/on-event.js";
import type { GatewayServer } from "../lib/types.js";
import { EVENT_ACTIONS } from "./event-limits.js";

const redisServer = useRedisServer("event-limits");
const log = pino({ level: "silent" });
const keys = redisKeys(`el${uniqueSuffix()}`);
type ClientEvent = keyof ClientToServerEvents;

/** Small buckets, so that tests reach the limits in a few events; refills are negligible within a test. */
const LIMITS: RateLimits = {
  message: { ratePerSecond: 0.01, burst: 3 },
  typing: { ratePerSecond: 0.01, burst: 2 },
  call: { ratePerSecond: 0.01, burst: 20 },
  sync: { ratePerSecond: 0.01, burst: 4 },
  presence: { ratePerSecond: 0.01, burst: 2 },
  receipt: { ratePerSecond: 0.01, burst: 5 },
  login: { ratePerSecond: 0.01, burst: 1 },
  "login-pair": { ratePerSecond: 0.01, burst: 1 },
  "login-address": { ratePerSecond: 0.01, burst: 1 },
  register: { ratePerSecond: 0.01, burst: 1 },
  refresh: { ratePerSecond: 0.01, burst: 2 },
  search: { ratePerSecond: 0.01, burst: 1 },
  conversation: { ratePerSecond: 0.01, burst: 1 },
  account: { ratePerSecond: 0.01, burst: 1 },
  upload: { ratePerSecond: 0.01, burst: 1 },
};

interface TestNode {
  url: string;
  /** Handler calls per event. */
  calls: Map<ClientEvent, number>;
  close(): Promise<void>;
}

const clients: RedisClient[] = [];
const nodes: TestNode[] = [];

/**
 * A Socket.IO server on the Redis adapter whose sockets belong to `auth.userId`, with a counting
 * handler for every client event registered through the event dispatcher, limited by `limiter`.
 */
async function startNode(limiter: (redis: RedisClient) => RateLimiter, redisUrl = redisServer.url): Promise<TestNode> {
  const redis = createRedis(redisUrl, { name: "limits-cmd", log });
  const pub = createRedis(redisServer.url, { name: "limits-pub", log });
  const sub = createRedis(redisServer.url, { name: "limits-sub", log, blocking: true });
  clients.push(redis, pub, sub);
  const httpServer = createServer();
  const io: GatewayServer = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  const events = createEventDispatcher({ log, limiter: limiter(redis) });
  const calls = new Map<ClientEvent, number>();
  for (const event of Object.keys(clientEventSchemas) as ClientEvent[]) {
    events.onEvent(event, async () => {
      calls.set(event, (calls.get(event) ?? 0) + 1);
      return {} as never;
    });
  }
  io.use((socket, next) => {
    socket.data.userId = String((socket.handshake.auth as { userId?: unknown }).userId);
    next();
  });
  io.on("connection", (socket) => {
    events.attach(socket);
    socket.emit("session:ready", { userId: socket.data.userId, node: "test", sessionId: oid(), expiresAt: new Date(Date.now() + 60_000).toISOString(), protocol: PROTOCOL_VERSION });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const node: TestNode = {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
  nodes.push(node);
  return node;
}

const limited = (redis: RedisClient) => new RateLimiter({ redis, keys, limits: LIMITS, log });

let a: TestNode;
let b: TestNode;
beforeAll(async () => {
  a = await startNode(limited);
  b = await startNode(limited);
});
afterEach(() => closeAllClients());
afterAll(async () => {
  for (const node of nodes) await node.close();
  for (const client of clients) client.disconnect();
});

async function connect(node: TestNode, userId: string): Promise<ClientSocket> {
  return (await connectClient(node.url, "", { auth: { userId } })).socket;
}

const oid = () => new Types.ObjectId().toHexString();

function emit(socket: ClientSocket, event: ClientEvent, payload: unknown) {
  return socket.timeout(5_000).emitWithAck(event, payload as never) as Promise<{ ok: boolean; error?: { code: string; retryAfterMs?: number } }>;
}

describe("onEvent rate limits", () => {
  it("gives every client event a bucket", () => {
    expect(Object.keys(EVENT_ACTIONS).sort()).toEqual(Object.keys(clientEventSchemas).sort());
    expect(EVENT_ACTIONS).toMatchObject({ "message:send": "message", "message:react": "message", "typing:stop": "typing", "call:ice-candidate": "call" });
  });

  it("refuses message events past the burst with RATE_LIMITED and retryAfterMs, before the handler runs", async () => {
    const user = oid();
    const socket = await connect(a, user);
    const before = a.calls.get("message:send") ?? 0;
    const acks = [];
    for (let i = 0; i < 4; i++) acks.push(await emit(socket, "message:send", validPayload("message:send")));
    expect(acks.slice(0, 3).every((ack) => ack.ok)).toBe(true);
    expect(acks[3]).toMatchObject({ ok: false, error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });
    expect(acks[3]!.error!.retryAfterMs).toBeGreaterThan(0);
    expect(a.calls.get("message:send")! - before).toBe(3);
    // Edits, deletes and reactions share the message bucket.
    expect(await emit(socket, "message:react", validPayload("message:react"))).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Other buckets are untouched.
    expect(await emit(socket, "typing:start", validPayload("typing:start"))).toMatchObject({ ok: true });
  });

  it("shares one bucket per user across gateways", async () => {
    const user = oid();
    const onA = await connect(a, user);
    const onB = await connect(b, user);
    expect((await emit(onA, "typing:start", validPayload("typing:start"))).ok).toBe(true);
    expect((await emit(onB, "typing:stop", validPayload("typing:stop"))).ok).toBe(true);
    expect(await emit(onA, "typing:start", validPayload("typing:start"))).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(await emit(onB, "typing:start", validPayload("typing:start"))).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Another user has a bucket of their own.
    expect((await emit(await connect(b, oid()), "typing:start", validPayload("typing:start"))).ok).toBe(true);
  });

  it("limits before validating: an invalid payload takes a token, and a refused one is not even parsed", async () => {
    const socket = await connect(a, oid());
    for (let i = 0; i < 2; i++) {
      expect(await emit(socket, "presence:query", { userIds: "not a list" })).toMatchObject({ error: { code: "VALIDATION" } });
    }
    expect(await emit(socket, "presence:query", { userIds: "not a list" })).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(await emit(socket, "presence:query", validPayload("presence:query"))).toMatchObject({ error: { code: "RATE_LIMITED" } });
  });

  it("reports a refusal without an ack as an error event with retryAfterMs", async () => {
    const socket = await connect(a, oid());
    for (let i = 0; i < 4; i++) expect((await emit(socket, "sync", validPayload("sync"))).ok).toBe(true);
    const error = nextEvent<EventError & { retryAfterMs?: number }>(socket, "error");
    socket.emit("sync", validPayload("sync") as never);
    expect(await error).toMatchObject({ code: "RATE_LIMITED", event: "sync", retryAfterMs: expect.any(Number) });
  });

  it("leaves call signaling a burst big enough for a round of ICE candidates", async () => {
    const socket = await connect(b, oid());
    const results = await Promise.all(
      Array.from({ length: 25 }, () => emit(socket, "call:ice-candidate", validPayload("call:ice-candidate"))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    expect(results.filter((r) => r.error?.code === "RATE_LIMITED")).toHaveLength(5);
  });

  it("serves the next event normally after retryAfterMs", async () => {
    const fast = await startNode((redis) => new RateLimiter({ redis, keys, limits: { ...LIMITS, receipt: { ratePerSecond: 20, burst: 1 } }, log }));
    const socket = await connect(fast, oid());
    expect((await emit(socket, "conversation:read", validPayload("conversation:read"))).ok).toBe(true);
    const refused = await emit(socket, "conversation:read", validPayload("conversation:read"));
    expect(refused).toMatchObject({ error: { code: "RATE_LIMITED" } });
    await new Promise((resolve) => setTimeout(resolve, refused.error!.retryAfterMs! + 10));
    expect((await emit(socket, "conversation:read", validPayload("conversation:read"))).ok).toBe(true);
  });
});

describe("onEvent when Redis is unreachable", () => {
  it("fails open for typing and calls, closed (UNAVAILABLE) for messages, and keeps serving", async () => {
    const deadUrl = `redis://127.0.0.1:${await freePort()}`;
    const node = await startNode((redis) => new RateLimiter({ redis, keys, limits: LIMITS, log, timeoutMs: 200 }), deadUrl);
    const socket = await connect(node, oid());
    expect(await emit(socket, "typing:start", validPayload("typing:start"))).toMatchObject({ ok: true });
    expect(await emit(socket, "call:offer", validPayload("call:offer"))).toMatchObject({ ok: true });
    expect(await emit(socket, "message:send", validPayload("message:send"))).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    expect(node.calls.get("message:send")).toBeUndefined();
    expect(await emit(socket, "typing:stop", validPayload("typing:stop"))).toMatchObject({ ok: true });
  });
});
