/**
 * The SDK in Node.js against a real cluster (nginx, two gateways, the API, the worker): the whole path
 * through `createClient` and `createSessionAuth`, over WebSocket and long-polling.
 */
import { afterEach, describe, expect, it } from "vitest";

import { useCluster } from "../../../test/helpers/cluster.js";
import { createSessionAuth } from "./auth.js";
import { createClient, type ParleyClient } from "./client.js";
import { until } from "./testing/until.js";

const fixture = useCluster("sdk");
const PASSWORD = "correct horse battery";
const clients: ParleyClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

/** Two users with a direct conversation, each with a client on session auth. */
async function pair(transports: ("websocket" | "polling")[] = ["websocket"]) {
  const alice = await fixture.api.register("alice");
  const bob = await fixture.api.register("bob");
  const conversation = await fixture.api.direct(alice.token, bob.id);
  const client = async (username: string) => {
    const auth = createSessionAuth({ url: fixture.cluster.url });
    await auth.login({ username, password: PASSWORD });
    const c = createClient({ url: fixture.cluster.url, getToken: auth.getToken, transports });
    clients.push(c);
    return c;
  };
  return { alice, bob, conversationId: conversation.id, a: await client(alice.user.username), b: await client(bob.user.username) };
}

describe("the SDK against a real cluster", () => {
  it.each([["websocket"], ["polling"]] as const)("sends, delivers, persists, reads and types over %s", async (transport) => {
    const { alice, bob, conversationId, a, b } = await pair([transport]);
    await Promise.all([a.connect(), b.connect()]);
    expect(a.connection.get()).toMatchObject({ state: "ready", userId: alice.id });
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded && m.epoch !== undefined, "bob's first sync");

    const local = ca.send({ content: "hello bob" });
    expect(local.state).toBe("pending");
    const mine = await until(ca.messages, (m) => m.items.some((i) => i.clientMsgId === local.clientMsgId && i.state === "persisted"), "persisted at alice");
    expect(mine.pending).toEqual([]);
    const theirs = await until(cb.messages, (m) => m.items.some((i) => i.content === "hello bob"), "the message at bob");
    expect(theirs.last).toBe(1);
    await until(b.conversations, (list) => list.find((c) => c.id === conversationId)?.unreadCount === 1, "bob's unread count");
    // Delivered automatically, read on request: alice sees both pointers.
    await until(ca.receipts, (r) => r.delivered[bob.id] === 1, "delivered at alice");
    cb.markRead(1);
    await until(ca.receipts, (r) => r.read[bob.id] === 1, "read at alice");
    await until(cb.receipts, (r) => r.unread === 0, "bob's unread count after reading");

    cb.keystroke();
    await until(ca.typing, (t) => t.includes(bob.id), "bob typing at alice");
    cb.stopTyping();
    await until(ca.typing, (t) => t.length === 0, "bob stopped typing");

    const presence = a.presence([bob.id]);
    await until(presence, (p) => p[bob.id]?.status === "online", "bob online");
    presence.release();
    ca.release();
    cb.release();
  });

  it("keeps messages written offline and sends them at connect; a later client recovers them", async () => {
    const { conversationId, a, b } = await pair();
    const ca = a.conversation(conversationId);
    const written = ["one", "two", "three"].map((content) => ca.send({ content }));
    expect(a.outbox.get().map((m) => m.content)).toEqual(["one", "two", "three"]);
    await a.connect();
    await until(a.outbox, (o) => o.length === 0, "the outbox drained");
    const items = (await until(ca.messages, (m) => m.items.length === 3, "three sent")).items;
    expect(items.map((m) => [m.seq, m.clientMsgId])).toEqual(written.map((w, i) => [i + 1, w.clientMsgId]));

    await b.connect();
    const cb = b.conversation(conversationId);
    const synced = await until(cb.messages, (m) => m.last === 3, "bob's first page");
    expect(synced.items.map((m) => m.content)).toEqual(["one", "two", "three"]);
    const { messages } = await b.rest.call("messages.history", { params: { id: conversationId }, query: {} });
    expect(messages).toHaveLength(3);
    ca.release();
    cb.release();
  });

  it("a refused edit rejects with the server's ParleyError", async () => {
    const { conversationId, a, b } = await pair();
    await Promise.all([a.connect(), b.connect()]);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    ca.send({ content: "mine" });
    const [message] = (await until(cb.messages, (m) => m.items.length === 1, "the message at bob")).items;
    await expect(cb.edit(message?.id ?? "", "not yours")).rejects.toMatchObject({ name: "ParleyError", code: "FORBIDDEN" });
    const edited = await ca.edit(message?.id ?? "", "mine, edited");
    expect(edited).toMatchObject({ content: "mine, edited", rev: 1 });
    await until(cb.messages, (m) => m.items[0]?.content === "mine, edited", "the edit at bob");
    ca.release();
    cb.release();
  });
});
