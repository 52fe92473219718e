/**
 * Edits, deletes, reactions and replies on a real cluster: nginx in front of two gateway processes, the
 * API and the worker, on a private Redis and a database of this file's own. The parties of each test sit
 * on different gateways.
 */
import { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Message, MessageReaction } from "@parley/protocol";
import { messageToWire, type MessageDoc, type Models } from "@parley/shared/models";
import { redisKeys } from "@parley/shared/redis-keys";

import { closeAllClients, connectClient, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { eventually, nextEvent } from "../helpers/events.js";

const fixture = useCluster("message-changes", { env: { RATE_LIMITS_ENABLED: "false" } });
const keys = redisKeys("parley");
let mongo: { models: Models };
let redis: Redis;

beforeAll(async () => {
  mongo = { models: await fixture.models() };
  redis = fixture.redis;
});
afterEach(() => closeAllClients());

type Ref = { conversationId?: string; messageId: string };

async function send(socket: ClientSocket, payload: { conversationId: string; clientMsgId: string; content: string; replyToId?: string }) {
  return socket.timeout(5_000).emitWithAck("message:send", payload);
}

async function sent(socket: ClientSocket, conversationId: string, clientMsgId: string): Promise<Message> {
  const res = await send(socket, { conversationId, clientMsgId, content: `text of ${clientMsgId}` });
  if (!res.ok) throw new Error(`send failed: ${JSON.stringify(res.error)}`);
  return res.message;
}

const edit = (socket: ClientSocket, ref: Ref, content: string) =>
  socket.timeout(5_000).emitWithAck("message:edit", { ...ref, content });
const remove = (socket: ClientSocket, ref: Ref) => socket.timeout(5_000).emitWithAck("message:delete", ref);
const react = (socket: ClientSocket, ref: Ref, emoji: string) =>
  socket.timeout(5_000).emitWithAck("message:react", { ...ref, emoji });

/** Alice and Bob in a direct conversation, on different gateways. */
async function twoOnTwoNodes() {
  const { api, cluster } = fixture;
  const alice = await api.register("alice");
  const bob = await api.register("bob");
  const conversationId = (await api.direct(alice.token, bob.id)).id;
  const a = await connectClient(cluster.url, alice.token);
  const b = await connectClient(cluster.url, bob.token);
  expect(a.session.node).not.toBe(b.session.node);
  return { alice, bob, conversationId, a: a.socket, b: b.socket };
}

async function stored(id: string): Promise<Message | undefined> {
  const doc = await mongo.models.Message.findById(id).lean<MessageDoc>();
  return doc ? messageToWire(doc) : undefined;
}

describe("changes across gateways", () => {
  it("an edit reaches the other node as message:updated, with editedAt and rev; only the sender may edit", async () => {
    const { alice, conversationId, a, b } = await twoOnTwoNodes();
    const original = await sent(a, conversationId, "e1");
    const aliceElsewhere = await connectClient(fixture.cluster.url, alice.token);
    const atBob = nextEvent<Message>(b, "message:updated");
    const atAliceElsewhere = nextEvent<Message>(aliceElsewhere.socket, "message:updated");

    const ack = await edit(a, { conversationId, messageId: original.id }, "  fixed typo  ");
    expect(ack).toEqual({
      ok: true,
      message: { ...original, content: "fixed typo", rev: 1, editedAt: expect.any(String) },
    });
    if (!ack.ok) return;
    expect(Date.parse(ack.message.editedAt!)).toBeGreaterThanOrEqual(Date.parse(original.createdAt));
    expect(await atBob).toEqual(ack.message);
    expect(await atAliceElsewhere).toEqual(ack.message);

    expect(await edit(b, { conversationId, messageId: original.id }, "bob was here")).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await remove(b, { conversationId, messageId: original.id })).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(await edit(a, { conversationId, messageId: original.id }, "")).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(await edit(a, { conversationId, messageId: "0123456789abcdef01234567" }, "x")).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("reactions toggle, reach the other node as message:reaction, and the message carries them", async () => {
    const { alice, bob, conversationId, a, b } = await twoOnTwoNodes();
    const message = await sent(a, conversationId, "r1");
    const ref = { conversationId, messageId: message.id };

    const added = nextEvent<MessageReaction>(a, "message:reaction");
    const first = await react(b, ref, "👍");
    expect(first).toMatchObject({ ok: true, added: true, message: { rev: 1, reactions: { "👍": [bob.id] } } });
    expect(await added).toEqual({ messageId: message.id, conversationId, userId: bob.id, emoji: "👍", added: true });

    const mine = nextEvent<MessageReaction>(b, "message:reaction");
    expect(await react(a, ref, "👍")).toMatchObject({ ok: true, added: true, message: { reactions: { "👍": [bob.id, alice.id] } } });
    expect(await mine).toMatchObject({ userId: alice.id, added: true });

    const removed = nextEvent<MessageReaction>(a, "message:reaction");
    const second = await react(b, ref, "👍");
    expect(second).toMatchObject({ ok: true, added: false, message: { rev: 3, reactions: { "👍": [alice.id] } } });
    expect(await removed).toEqual({ messageId: message.id, conversationId, userId: bob.id, emoji: "👍", added: false });
    expect(await react(b, ref, "not an emoji")).toMatchObject({ ok: false, error: { code: "VALIDATION" } });

    const mallory = await fixture.api.register("mallory");
    const m = await connectClient(fixture.cluster.url, mallory.token);
    expect(await react(m.socket, ref, "👍")).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
  });

  it("a delete reaches the other node as message:deleted, removes the content, and ends edits and reactions", async () => {
    const { conversationId, a, b } = await twoOnTwoNodes();
    const message = await sent(a, conversationId, "d1");
    const ref = { conversationId, messageId: message.id };
    await react(b, ref, "🎉");

    const atBob = nextEvent<{ id: string; conversationId: string }>(b, "message:deleted");
    const ack = await remove(a, ref);
    expect(ack).toEqual({ ok: true, message: { ...message, content: "", rev: 2, deletedAt: expect.any(String) } });
    expect(await atBob).toEqual({ id: message.id, conversationId });

    expect(await remove(a, ref)).toEqual(ack);
    expect(await edit(a, ref, "back")).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
    expect(await react(b, ref, "🎉")).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });
});

describe("history and sync show the latest state", () => {
  it("before the worker stored it, after, and once Redis no longer holds the message", async () => {
    const { alice, bob, conversationId, a, b } = await twoOnTwoNodes();
    const history = async () => (await fixture.api.history(bob.token, conversationId)).body.messages;
    const synced = async () => {
      const res = await b.timeout(5_000).emitWithAck("sync", { conversationId, afterSeq: 0 });
      if (!res.ok) throw new Error(JSON.stringify(res.error));
      expect(res.recovered).toBe(true);
      return res.messages;
    };

    await fixture.cluster.worker.stop();
    let latest: Message[];
    try {
      const [one, two, three] = [await sent(a, conversationId, "h1"), await sent(a, conversationId, "h2"), await sent(a, conversationId, "h3")];
      const edited = await edit(a, { conversationId, messageId: one.id }, "one, edited");
      const reacted = await react(b, { conversationId, messageId: two.id }, "👀");
      const deleted = await remove(a, { conversationId, messageId: three.id });
      if (!edited.ok || !reacted.ok || !deleted.ok) throw new Error("a change failed");
      latest = [edited.message, reacted.message, deleted.message];

      expect(await stored(one.id)).toBeUndefined();
      expect(await history()).toEqual(latest);
      expect(await synced()).toEqual(latest);
    } finally {
      await fixture.cluster.worker.start();
    }

    await eventually(async () => {
      const states = await Promise.all(latest.map((m) => stored(m.id)));
      return states.every((s, i) => s?.rev === latest[i]!.rev);
    }, 15_000, "the latest states stored");
    expect(await Promise.all(latest.map((m) => stored(m.id)))).toEqual(latest);
    const conversation = await fixture.api.request("GET", `/api/conversations/${conversationId}`, { token: alice.token });
    expect(conversation.body.conversation.lastMessage).toEqual(latest[2]);
    // Stored now, and said so (before, lines above: not).
    const storedLatest = latest.map((m) => ({ ...m, persisted: true }));
    expect(await history()).toEqual(storedLatest);
    expect(await synced()).toEqual(storedLatest);

    // As if the stream and the overlay had expired: everything now comes from MongoDB.
    await redis.del(keys.conversationStream(conversationId), keys.conversationOverlay(conversationId));
    expect(await history()).toEqual(storedLatest);
    expect(await synced()).toEqual(storedLatest);

    // A change to a message only MongoDB holds starts from its stored state, even without its conversation.
    const atBob = nextEvent<Message>(b, "message:updated");
    const again = await edit(a, { messageId: latest[0]!.id }, "one, edited again");
    expect(again).toMatchObject({ ok: true, message: { id: latest[0]!.id, content: "one, edited again", rev: 2 } });
    expect(await atBob).toEqual(again.ok && again.message);
    expect((await history())[0]).toEqual(again.ok && { ...again.message, persisted: true });
  });
});

describe("replies", () => {
  it("must name a message of the same conversation, even one sent a moment ago and not stored yet", async () => {
    const { alice, bob, conversationId, a, b } = await twoOnTwoNodes();
    const elsewhere = (await fixture.api.group(alice.token, "elsewhere", [bob.id])).id;
    const other = await sent(a, elsewhere, "o1");

    await fixture.cluster.worker.stop();
    try {
      const target = await sent(a, conversationId, "t1");
      const reply = await send(b, { conversationId, clientMsgId: "re1", content: "agreed", replyToId: target.id });
      expect(reply).toMatchObject({ ok: true, message: { seq: 2, replyToId: target.id } });
      expect(await stored(target.id)).toBeUndefined();

      for (const replyToId of [other.id, "0123456789abcdef01234567"]) {
        expect(await send(b, { conversationId, clientMsgId: `bad-${replyToId}`, content: "?", replyToId })).toMatchObject({
          ok: false,
          error: { code: "VALIDATION", issues: [{ path: "replyToId" }] },
        });
      }
      const rest = await fixture.api.request("POST", `/api/conversations/${conversationId}/messages`, {
        token: bob.token,
        body: { clientMsgId: "rest-bad", content: "?", replyToId: other.id },
      });
      expect(rest.status).toBe(400);
      expect(rest.body.error.code).toBe("VALIDATION");
    } finally {
      await fixture.cluster.worker.start();
    }
  });
});
