/**
 * The gateway's metrics, recorded by two gateways in this process on one real Redis and FerretDB:
 * connections, events by outcome (refusals included), ack durations, and the delivery latency of
 * `message:new` on the nodes that fan it out.
 */
import { Types, type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { createEmitter } from "@parley/shared/emitter";
import { conversationRoom } from "@parley/shared/events";
import { Registry } from "@parley/shared/metrics";
import type { Models } from "@parley/shared/models";
import { createRedis } from "@parley/shared/redis";

import { closeAllClients, connectClient, type ClientSocket } from "../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../test/helpers/env.js";
import { eventually, nextEvent } from "../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { fakeMessage, seedConversation, seedUser } from "../../../test/helpers/seed.js";
import { sample } from "../../../test/helpers/metrics.js";
import { GatewayMetrics } from "./metrics.js";

const redis = useRedisServer("gateway-metrics");
let connection: Connection;
let models: Models;
let nodes: GatewayNode[];

/** Presence queries get a bucket of 2, so that the third one in a row is refused. */
const ENV = { RATE_LIMIT_PRESENCE_BURST: "2", RATE_LIMIT_PRESENCE_RATE: "0.01" };

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("gateway-metrics")));
  nodes = [await startGatewayNode("node-a", redis.url, models, ENV), await startGatewayNode("node-b", redis.url, models, ENV)];
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await connection?.close();
});

const metricsOf = (index: number) => nodes[index]!.gateway.metrics;

const deliveries = (index: number) => sample(metricsOf(index).deliveryLatency, {}, "_count");

async function send(socket: ClientSocket, conversationId: string, content = "hi") {
  const ack = await socket
    .timeout(5_000)
    .emitWithAck("message:send", { conversationId, clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content });
  if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
  return ack.message;
}

describe("connections", () => {
  it("counts a connection, keeps the gauge, and counts the disconnection by reason", async () => {
    const metrics = metricsOf(0);
    const connections = await sample(metrics.connections);
    const connected = await sample(metrics.connectedSockets);
    const clientLeft = await sample(metrics.disconnections, { reason: "client namespace disconnect" });

    const user = await seedUser(models, "conn");
    const { socket } = await connectClient(nodes[0]!.url, user.token);
    expect(await sample(metrics.connections)).toBe(connections + 1);
    expect(await sample(metrics.connectedSockets)).toBe(connected + 1);

    socket.disconnect();
    await eventually(async () => (await sample(metrics.disconnections, { reason: "client namespace disconnect" })) === clientLeft + 1);
    expect(await sample(metrics.connectedSockets)).toBe(connected);
  });
});

describe("events", () => {
  it("counts an answered event as ok and times its ack, by event name", async () => {
    const metrics = metricsOf(0);
    const [alice, bob] = [await seedUser(models, "alice"), await seedUser(models, "bob")];
    const conversationId = await seedConversation(models, [alice, bob]);
    const { socket } = await connectClient(nodes[0]!.url, alice.token);
    const ok = { event: "message:send", outcome: "ok" };
    const before = { count: await sample(metrics.eventsReceived, ok), acks: await sample(metrics.ackDuration, { event: "message:send" }, "_count") };

    await send(socket, conversationId);

    expect(await sample(metrics.eventsReceived, ok)).toBe(before.count + 1);
    expect(await sample(metrics.ackDuration, { event: "message:send" }, "_count")).toBe(before.acks + 1);
    const seconds = await sample(metrics.ackDuration, { event: "message:send" }, "_sum");
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(30);
  });

  it("counts a refused event with its error code: VALIDATION, then RATE_LIMITED with its action", async () => {
    const metrics = metricsOf(1);
    const user = await seedUser(models, "flood");
    const { socket } = await connectClient(nodes[1]!.url, user.token);
    const invalid = { event: "presence:query", outcome: "VALIDATION" };
    const limited = { event: "presence:query", outcome: "RATE_LIMITED" };
    const before = {
      invalid: await sample(metrics.eventsReceived, invalid),
      limited: await sample(metrics.eventsReceived, limited),
      refusals: await sample(metrics.rateLimited, { action: "presence" }),
      acks: await sample(metrics.ackDuration, { event: "presence:query" }, "_count"),
    };

    // Both take a token before their payload is found invalid; the third finds the bucket empty.
    for (let i = 0; i < 2; i++) {
      const ack = await socket.timeout(5_000).emitWithAck("presence:query", {} as never);
      expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    }
    const refused = await socket.timeout(5_000).emitWithAck("presence:query", {} as never);
    expect(refused).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });

    expect(await sample(metrics.eventsReceived, invalid)).toBe(before.invalid + 2);
    expect(await sample(metrics.eventsReceived, limited)).toBe(before.limited + 1);
    expect(await sample(metrics.rateLimited, { action: "presence" })).toBe(before.refusals + 1);
    expect(await sample(metrics.ackDuration, { event: "presence:query" }, "_count")).toBe(before.acks + 3);
  });

  it("counts an event without an ack callback once answered with an error event", async () => {
    const metrics = metricsOf(0);
    const user = await seedUser(models, "noack");
    const { socket } = await connectClient(nodes[0]!.url, user.token);
    const labels = { event: "typing:start", outcome: "VALIDATION" };
    const before = await sample(metrics.eventsReceived, labels);

    const error = nextEvent(socket, "error");
    socket.emit("typing:start", { conversationId: "not-an-id" });
    expect(await error).toMatchObject({ code: "VALIDATION", event: "typing:start" });
    expect(await sample(metrics.eventsReceived, labels)).toBe(before + 1);
  });

  it("starts every rate-limit action at zero, so that the first refusal shows in rate()", async () => {
    const metrics = new GatewayMetrics(new Registry());
    const actions = (await metrics.rateLimited.get()).values.map((v) => v.labels.action).sort();
    expect(actions).toEqual(["call", "message", "presence", "receipt", "refresh", "sync", "typing"]);
  });
});

describe("delivery latency", () => {
  it("is observed on the receiving node when a message crosses gateways, and on the sending node", async () => {
    const [alice, bob] = [await seedUser(models, "alice"), await seedUser(models, "bob")];
    const conversationId = await seedConversation(models, [alice, bob]);
    const a = (await connectClient(nodes[0]!.url, alice.token)).socket;
    const b = (await connectClient(nodes[1]!.url, bob.token)).socket;
    const before = [await deliveries(0), await deliveries(1)];
    const sumBefore = await sample(metricsOf(1).deliveryLatency, {}, "_sum");

    const arrived = nextEvent(b, "message:new");
    await send(a, conversationId);
    await arrived;

    // The emit on node b happens before bob's socket gets the message: no waiting needed.
    expect(await deliveries(1)).toBe(before[1]! + 1);
    expect(await deliveries(0)).toBe(before[0]! + 1);
    const seconds = (await sample(metricsOf(1).deliveryLatency, {}, "_sum")) - sumBefore;
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(seconds).toBeLessThan(5);
  });

  it("is observed once per node, whatever the number of receiving sockets, and not on a node without them", async () => {
    const [alice, bob] = [await seedUser(models, "alice"), await seedUser(models, "bob")];
    const conversationId = await seedConversation(models, [alice, bob]);
    const a = (await connectClient(nodes[0]!.url, alice.token)).socket;
    const phone = (await connectClient(nodes[0]!.url, bob.token)).socket;
    const laptop = (await connectClient(nodes[0]!.url, bob.token)).socket;
    const before = [await deliveries(0), await deliveries(1)];

    const arrived = Promise.all([nextEvent(phone, "message:new"), nextEvent(laptop, "message:new")]);
    await send(a, conversationId);
    await arrived;
    // A message that node b would receive from Redis has reached it by now if it was ever going to: the
    // next one through the same channel is behind it.
    const carol = await seedUser(models, "carol");
    const other = await seedConversation(models, [alice, carol]);
    const c = (await connectClient(nodes[1]!.url, carol.token)).socket;
    const marker = nextEvent(c, "message:new");
    await send(a, other);
    await marker;

    expect(await deliveries(0)).toBe(before[0]! + 2);
    expect(await deliveries(1)).toBe(before[1]! + 1);
  });

  it("is observed for a message emitted by the API or the worker through the Redis emitter", async () => {
    const log = pino({ level: "silent" });
    const client = createRedis(redis.url, { name: "metrics-emitter", log });
    try {
      const bob = await seedUser(models, "bob");
      const alice = await seedUser(models, "alice");
      const conversationId = await seedConversation(models, [alice, bob]);
      const b = (await connectClient(nodes[1]!.url, bob.token)).socket;
      const before = await deliveries(1);
      const sent = fakeMessage(conversationId, 1, { senderId: alice.id, createdAt: new Date(Date.now() - 1500).toISOString() });

      const arrived = nextEvent(b, "message:new");
      createEmitter(client, log).to(conversationRoom(conversationId)).emit("message:new", sent);
      expect(await arrived).toEqual(sent);
      expect(await deliveries(1)).toBe(before + 1);
      // The 1.5 s since createdAt land in the buckets above 1 s.
      const { values } = await metricsOf(1).deliveryLatency.get();
      const upTo1s = values.find((v) => v.metricName?.endsWith("_bucket") && v.labels.le === 1)?.value ?? 0;
      const all = values.find((v) => v.metricName?.endsWith("_bucket") && v.labels.le === "+Inf")?.value ?? 0;
      expect(all - upTo1s).toBeGreaterThanOrEqual(1);
    } finally {
      client.disconnect();
    }
  });
});

describe("recorders", () => {
  it("measure the delivery latency from createdAt, count a clock skew as 0, and ignore what is not a time", async () => {
    const metrics = new GatewayMetrics(new Registry());
    const now = Date.parse("2025-01-01T00:00:10.000Z");
    metrics.messageDelivered("2025-01-01T00:00:09.750Z", now);
    metrics.messageDelivered("2025-01-01T00:00:11.000Z", now);
    metrics.messageDelivered("not a date", now);
    metrics.messageDelivered(undefined, now);
    expect(await sample(metrics.deliveryLatency, {}, "_count")).toBe(2);
    expect(await sample(metrics.deliveryLatency, {}, "_sum")).toBeCloseTo(0.25, 6);
  });

  it("never let an invalid duration throw into a handler", async () => {
    const metrics = new GatewayMetrics(new Registry());
    expect(() => metrics.eventAnswered("sync", "INTERNAL", Number.NaN)).not.toThrow();
    expect(await sample(metrics.eventsReceived, { event: "sync", outcome: "INTERNAL" })).toBe(1);
    expect(await sample(metrics.ackDuration, { event: "sync" }, "_count")).toBe(0);
  });
});
