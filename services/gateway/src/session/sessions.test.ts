/**
 * Sockets follow their login, on two gateways in this process sharing one Redis: expiry with a warning,
 * `auth:refresh`, revocation reaching every gateway, and the per-user socket cap across the cluster.
 */
import type { Connection } from "mongoose";
import { Types } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { PROTOCOL_VERSION } from "@parley/protocol";
import { signAccessToken } from "@parley/shared/auth";
import { createEmitter, revokeOnGateways } from "@parley/shared/emitter";
import { createLogger } from "@parley/shared/logger";
import type { Models } from "@parley/shared/models";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";
import { SessionRevocations } from "@parley/shared/sessions/revocations";

import { closeAllClients, connectClient, connectError, type ClientSocket } from "../../../../test/helpers/clients.js";
import { TEST_JWT_SECRET, testMongoUrl } from "../../../../test/helpers/env.js";
import { eventually, nextEvent } from "../../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { seedUser } from "../../../../test/helpers/seed.js";
import { SocketAdmission } from "./admission.js";

const redisServer = useRedisServer("sessions");
const MAX_SOCKETS = 3;
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];
let redis: RedisClient;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("sessions")));
  const env = { MAX_SOCKETS_PER_USER: String(MAX_SOCKETS), SESSION_EXPIRY_WARNING_SECONDS: "1" };
  nodes = [await startGatewayNode("node-a", redisServer.url, models, env), await startGatewayNode("node-b", redisServer.url, models, env)];
  redis = createRedis(redisServer.url, { name: "sessions-test", log: createLogger({ service: "api", node: "test", level: "silent" }) });
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  redis?.disconnect();
  await connection?.close();
});

const keys = redisKeys("parley");
const newSessionId = () => new Types.ObjectId().toHexString();
const tokenOf = (userId: string, sessionId: string, ttlSeconds = 3600) =>
  signAccessToken({ userId, sessionId }, TEST_JWT_SECRET, ttlSeconds);

/** What the API does when it revokes sessions: the Redis record, then the message to every gateway. */
async function revoke(userId: string, sessionIds: string[]): Promise<void> {
  await new SessionRevocations(redis, keys).record(userId, sessionIds, 900);
  revokeOnGateways(createEmitter(redis, createLogger({ service: "api", node: "test", level: "silent" })), {
    userId,
    sessionIds,
    ended: { code: "SESSION_REVOKED", message: "You logged out" },
  });
}

/** Resolves with the events a socket got before its disconnect, and the disconnect reason. */
function untilDisconnect(socket: ClientSocket, timeoutMs = 10_000): Promise<{ events: [string, unknown][]; reason: string; at: number }> {
  const events: [string, unknown][] = [];
  socket.onAny((event: string, payload: unknown) => events.push([event, payload]));
  return nextEvent<string>(socket, "disconnect", timeoutMs).then((reason) => ({ events, reason, at: Date.now() }));
}

describe("expiry", () => {
  it("tells the socket when its token expires (session:ready), warns it, then ends and disconnects it at that time", async () => {
    const user = await seedUser(models);
    const sessionId = newSessionId();
    const { token, expiresAt } = tokenOf(user.id, sessionId, 3);
    const { socket, session } = await connectClient(nodes[0]!.url, token);
    expect(session).toEqual({ userId: user.id, node: "node-a", sessionId, expiresAt: new Date(expiresAt).toISOString(), protocol: PROTOCOL_VERSION });

    const { events, reason, at } = await untilDisconnect(socket);
    expect(events).toEqual([
      ["session:expiring", { expiresAt: new Date(expiresAt).toISOString() }],
      ["session:ended", { code: "TOKEN_EXPIRED", message: expect.any(String) }],
    ]);
    expect(reason).toBe("io server disconnect");
    expect(at).toBeGreaterThanOrEqual(expiresAt);
  });

  it("lives on past the old expiry after auth:refresh with a newer token of the same session", async () => {
    const user = await seedUser(models);
    const sessionId = newSessionId();
    const first = tokenOf(user.id, sessionId, 2);
    const { socket } = await connectClient(nodes[1]!.url, first.token);
    const later = tokenOf(user.id, sessionId, 4);
    const ack = await socket.timeout(5_000).emitWithAck("auth:refresh", { token: later.token });
    expect(ack).toEqual({ ok: true, expiresAt: new Date(later.expiresAt).toISOString() });

    const { events, at } = await untilDisconnect(socket);
    expect(at).toBeGreaterThanOrEqual(later.expiresAt);
    expect(events.filter(([e]) => e === "session:ended")).toEqual([["session:ended", { code: "TOKEN_EXPIRED", message: expect.any(String) }]]);
  });

  it("refuses auth:refresh with a token of another session or user, an invalid one, or one of a revoked session", async () => {
    const user = await seedUser(models);
    const other = await seedUser(models);
    const sessionId = newSessionId();
    const { socket } = await connectClient(nodes[0]!.url, tokenOf(user.id, sessionId).token);
    const refresh = (token: string) => socket.timeout(5_000).emitWithAck("auth:refresh", { token });

    expect(await refresh(tokenOf(user.id, newSessionId()).token)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await refresh(tokenOf(other.id, sessionId).token)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await refresh("not-a-token")).toMatchObject({ ok: false, error: { code: "INVALID_TOKEN" } });
    expect(await refresh(tokenOf(user.id, sessionId, -10).token)).toMatchObject({ ok: false, error: { code: "TOKEN_EXPIRED" } });
    await new SessionRevocations(redis, keys).record(user.id, [sessionId], 900);
    expect(await refresh(tokenOf(user.id, sessionId).token)).toMatchObject({ ok: false, error: { code: "SESSION_REVOKED" } });
  });
});

describe("revocation", () => {
  it("refuses the handshake of a revoked session with SESSION_REVOKED", async () => {
    const user = await seedUser(models);
    const sessionId = newSessionId();
    await new SessionRevocations(redis, keys).record(user.id, [sessionId], 900);
    const err = await connectError(nodes[0]!.url, { token: tokenOf(user.id, sessionId).token });
    expect(err.data?.code).toBe("SESSION_REVOKED");
  });

  it("ends the revoked session's sockets on every gateway with session:ended, and no other session's", async () => {
    const user = await seedUser(models);
    const revoked = newSessionId();
    const kept = newSessionId();
    const onA = (await connectClient(nodes[0]!.url, tokenOf(user.id, revoked).token)).socket;
    const onB = (await connectClient(nodes[1]!.url, tokenOf(user.id, revoked).token)).socket;
    const other = (await connectClient(nodes[1]!.url, tokenOf(user.id, kept).token)).socket;
    const endA = untilDisconnect(onA);
    const endB = untilDisconnect(onB);

    await revoke(user.id, [revoked]);
    for (const { events, reason } of await Promise.all([endA, endB])) {
      expect(events).toEqual([["session:ended", { code: "SESSION_REVOKED", message: "You logged out" }]]);
      expect(reason).toBe("io server disconnect");
    }
    expect(other.connected).toBe(true);
    expect(await other.timeout(5_000).emitWithAck("presence:query", { userIds: [user.id] })).toMatchObject({ ok: true });
  });
});

describe("sockets per user", () => {
  it(`admits ${MAX_SOCKETS} sockets of one user across both gateways, refuses one more with TOO_MANY_CONNECTIONS, and frees a place on disconnect`, async () => {
    const user = await seedUser(models);
    const token = tokenOf(user.id, newSessionId()).token;
    const sockets: ClientSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS; i++) sockets.push((await connectClient(nodes[i % 2]!.url, token)).socket);
    for (const node of nodes) expect((await connectError(node.url, { token })).data?.code).toBe("TOO_MANY_CONNECTIONS");
    // Another user is not affected.
    const other = await seedUser(models);
    await connectClient(nodes[0]!.url, other.token);

    sockets[0]!.disconnect();
    await eventually(async () => (await redis.zcard(keys.userSockets(user.id))) === MAX_SOCKETS - 1, 5_000, "lease released");
    await connectClient(nodes[1]!.url, token);
  });

  it("refuses many parallel handshakes beyond the cap, whichever gateway they reach", async () => {
    const user = await seedUser(models);
    const token = tokenOf(user.id, newSessionId()).token;
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => connectClient(nodes[i % 2]!.url, token)));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(MAX_SOCKETS);
    for (const o of outcomes) if (o.status === "rejected") expect((o.reason as { data?: { code?: string } }).data?.code).toBe("TOO_MANY_CONNECTIONS");
  });
});

describe("SocketAdmission leases", () => {
  it("lets a lease lapse unless renewed, so a dead gateway's sockets stop counting", async () => {
    const admission = new SocketAdmission(redis, redisKeys(`lease${Date.now()}`), 2, 300);
    const userId = new Types.ObjectId().toHexString();
    const sessionId = newSessionId();
    expect(await admission.admit(userId, sessionId, "s1")).toBe("OK");
    expect(await admission.admit(userId, sessionId, "s2")).toBe("OK");
    expect(await admission.admit(userId, sessionId, "s3")).toBe("FULL");
    // s1's gateway keeps renewing; s2's died: only s2's place comes free.
    const renewer = setInterval(() => void admission.renew(userId, ["s1"]), 50);
    try {
      await eventually(async () => (await admission.admit(userId, sessionId, "s3")) === "OK", 5_000, "s2's lease lapsed");
      expect(await admission.admit(userId, sessionId, "s4")).toBe("FULL");
    } finally {
      clearInterval(renewer);
    }
  });

  it("does not give a lapsed socket a new lease on renewal", async () => {
    const k = redisKeys(`lapse${Date.now()}`);
    const admission = new SocketAdmission(redis, k, 1, 100);
    const userId = new Types.ObjectId().toHexString();
    expect(await admission.admit(userId, newSessionId(), "gone")).toBe("OK");
    await eventually(async () => (await admission.admit(userId, newSessionId(), "new")) === "OK", 5_000, "lease lapsed");
    await admission.renew(userId, ["gone"]);
    expect(await redis.zrange(k.userSockets(userId), "0", "-1")).toEqual(["new"]);
  });
});
