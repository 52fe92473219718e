/**
 * The message path on a real cluster: nginx in front of two gateway processes, the API and the worker,
 * on a private Redis and a database of this file's own. Every client connects through nginx.
 */
import { Queue } from "bullmq";
import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it } from "vitest";

import type { Message, MessagePersisted } from "@parley/protocol";

import { closeAllClients, connectClient, connectError, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { TEST_JWT_SECRET } from "../helpers/env.js";
import { collect, eventually, nextEvent } from "../helpers/events.js";

const fixture = useCluster("message-path");

afterEach(() => closeAllClients());

function send(socket: ClientSocket, payload: unknown) {
  return socket.timeout(5_000).emitWithAck("message:send", payload as never);
}

describe.each(["websocket", "polling"] as const)("two clients through nginx over %s", (transport) => {
  it("land on different gateways and exchange messages in both directions", async () => {
    const { alice, bob, conversation, a, b } = await fixture.connectedPair(transport);
    expect(a.session.userId).toBe(alice.id);
    expect(b.session.userId).toBe(bob.id);
    expect(a.session.node).not.toBe(b.session.node);

    const atBob = nextEvent<Message>(b.socket, "message:new");
    const ackA = await send(a.socket, { conversationId: conversation.id, clientMsgId: "a1", content: "hi bob" });
    expect(ackA).toMatchObject({ ok: true, message: { seq: 1, senderId: alice.id, content: "hi bob" } });
    expect(await atBob).toEqual(ackA.ok && ackA.message);

    const atAlice = nextEvent<Message>(a.socket, "message:new");
    const ackB = await send(b.socket, { conversationId: conversation.id, clientMsgId: "b1", content: "hi alice" });
    expect(ackB).toMatchObject({ ok: true, message: { seq: 2, senderId: bob.id } });
    expect(await atAlice).toEqual(ackB.ok && ackB.message);
  });
});

describe("persistence", () => {
  it("acks, fans out, persists, confirms with message:persisted, and serves the message from history", async () => {
    const { alice, conversation, a, b } = await fixture.connectedPair("websocket");
    const persistedAtA = nextEvent<MessagePersisted>(a.socket, "message:persisted", 15_000);
    const persistedAtB = nextEvent<MessagePersisted>(b.socket, "message:persisted", 15_000);
    const delivered = nextEvent<Message>(b.socket, "message:new");

    const ack = await send(a.socket, { conversationId: conversation.id, clientMsgId: "p1", content: "keep me" });
    if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
    const { message } = ack;
    expect(await delivered).toEqual(message);
    const confirmation = { id: message.id, conversationId: conversation.id, seq: message.seq, clientMsgId: "p1" };
    expect(await persistedAtA).toEqual(confirmation);
    expect(await persistedAtB).toEqual(confirmation);

    const history = await fixture.api.history(alice.token, conversation.id);
    expect(history.status).toBe(200);
    // Stored before it was confirmed: history says so too.
    expect(history.body.messages).toEqual([{ ...message, persisted: true }]);
  });

  it("stores one message for a repeated clientMsgId, and one document for a job processed twice", async () => {
    const { alice, conversation, a } = await fixture.connectedPair("websocket");
    const first = await send(a.socket, { conversationId: conversation.id, clientMsgId: "dup", content: "only once" });
    const again = await send(a.socket, { conversationId: conversation.id, clientMsgId: "dup", content: "only once" });
    expect(again).toEqual(first);
    if (!first.ok) throw new Error("send failed");
    await eventually(async () => (await fixture.api.history(alice.token, conversation.id)).body.messages.length === 1, 15_000, "persisted");

    // Process the same job a second time, as a retry after a lost completion would.
    const queue = new Queue("persist", { connection: { url: fixture.cluster.redisUrl }, prefix: "{parley}" });
    try {
      const persistedAgain = nextEvent<MessagePersisted>(a.socket, "message:persisted", 15_000);
      await queue.add("message", first.message, { jobId: first.message.id });
      expect(await persistedAgain).toMatchObject({ id: first.message.id });
    } finally {
      await queue.close();
    }
    const history = await fixture.api.history(alice.token, conversation.id);
    expect(history.body.messages).toEqual([{ ...first.message, persisted: true }]);
  });

  it("delivers a message sent through the REST API to sockets on both nodes", async () => {
    const { alice, conversation, a, b } = await fixture.connectedPair("websocket");
    const aliceOnOtherNode = await connectClient(fixture.cluster.url, alice.token);
    expect(new Set([a.session.node, b.session.node, aliceOnOtherNode.session.node]).size).toBe(2);
    const received = [a, b, aliceOnOtherNode].map((c) => nextEvent<Message>(c.socket, "message:new"));

    const res = await fixture.api.request<{ message: Message }>("POST", `/api/conversations/${conversation.id}/messages`, {
      token: alice.token,
      body: { clientMsgId: "rest-1", content: "from REST" },
    });
    expect(res.status).toBe(201);
    for (const message of await Promise.all(received)) expect(message).toEqual(res.body.message);
  });
});

describe("refusals through nginx", () => {
  it.each([
    ["a missing token", {}, "AUTH_REQUIRED"],
    ["a malformed token", { token: "abc.def" }, "INVALID_TOKEN"],
    ["a wrongly signed token", { token: jwt.sign({ sub: "0123456789abcdef01234567" }, "another-secret-another-secret-another") }, "INVALID_TOKEN"],
    ["an expired token", { token: jwt.sign({ sub: "0123456789abcdef01234567", exp: Math.floor(Date.now() / 1000) - 1 }, TEST_JWT_SECRET) }, "TOKEN_EXPIRED"],
  ])("refuses %s with its code", async (_, auth, code) => {
    expect((await connectError(fixture.cluster.url, auth)).data?.code).toBe(code);
  });

  it("refuses a non-member with FORBIDDEN, delivers nothing, and keeps serving after VALIDATION", async () => {
    const { conversation, a, b } = await fixture.connectedPair("websocket");
    const mallory = await fixture.api.register("mallory");
    const m = await connectClient(fixture.cluster.url, mallory.token);
    const atA = collect<Message>(a.socket, "message:new");
    const atB = collect<Message>(b.socket, "message:new");

    expect(await send(m.socket, { conversationId: conversation.id, clientMsgId: "x", content: "intrude" })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    expect(await send(a.socket, { conversationId: conversation.id, content: "" })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION" },
    });
    const legit = await send(a.socket, { conversationId: conversation.id, clientMsgId: "ok", content: "members only" });
    expect(legit).toMatchObject({ ok: true, message: { seq: 1 } });
    await eventually(() => atB.length === 1, 5_000, "the legitimate delivery");
    expect(atB.map((msg) => msg.clientMsgId)).toEqual(["ok"]);
    expect(atA).toEqual([]);
  });
});

describe("membership changes", () => {
  it("a member added through the API receives the next message without reconnecting", async () => {
    const { api, cluster } = fixture;
    const owner = await api.register("owner");
    const early = await api.register("early");
    const late = await api.register("late");
    const group = await api.group(owner.token, "crew", [early.id]);
    const ownerSocket = await connectClient(cluster.url, owner.token);
    const lateSocket = await connectClient(cluster.url, late.token);

    const created = nextEvent<{ conversation: { id: string; members: string[] } }>(lateSocket.socket, "conversation:created");
    const res = await api.request("POST", `/api/conversations/${group.id}/members`, { token: owner.token, body: { userIds: [late.id] } });
    expect(res.status).toBe(200);
    expect((await created).conversation).toMatchObject({ id: group.id, members: expect.arrayContaining([late.id]) });

    const delivered = nextEvent<Message>(lateSocket.socket, "message:new");
    const ack = await send(ownerSocket.socket, { conversationId: group.id, clientMsgId: "welcome", content: "welcome aboard" });
    expect(await delivered).toEqual(ack.ok && ack.message);

    // And the new member can write at once: the gateways' member cache was updated, not just the database.
    expect(await send(lateSocket.socket, { conversationId: group.id, clientMsgId: "thanks", content: "thanks" })).toMatchObject({ ok: true });
  });
});
