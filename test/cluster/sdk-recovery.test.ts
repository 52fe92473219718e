/**
 * The SDK (`@parley/client`) through the failures a chat app meets, on a real cluster (nginx, two
 * gateways, the API, the worker): a gateway killed while it sends, a client offline while it writes,
 * an outbox that outlives its client, gaps, a lost epoch, and an access token that expires mid-session.
 * Every case ends with each message held exactly once, in seq order, and stored exactly once.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";

import type { Discontinuity, MessagesSnapshot, ParleyClient, SocketEvents, SocketFactory } from "@parley/client";
import { createSessionAuth, memoryStorage, socketIoFactory } from "@parley/client";

import { useCluster } from "../helpers/cluster.js";
import { startCuttableProxy, type CuttableProxy } from "../helpers/cuttable-proxy.js";
import { eventually } from "../helpers/events.js";
import { disposeClients, gatewayOf, sdkClient, sdkClientOn, TEST_PASSWORD, until } from "../helpers/sdk.js";

const ACCESS_TOKEN_TTL_SECONDS = 20;

const fixture = useCluster("sdk-recovery", {
  // The SDK waits out RATE_LIMITED; without the limits, 200 sends take seconds, not half a minute.
  env: { RATE_LIMITS_ENABLED: "false", ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) },
  envFor: { gateway: { SESSION_EXPIRY_WARNING_SECONDS: "10" } },
});

const proxies: CuttableProxy[] = [];
afterEach(async () => {
  await disposeClients();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
afterAll(() => disposeClients());

async function proxy(): Promise<CuttableProxy> {
  const p = await startCuttableProxy(fixture.cluster.url);
  proxies.push(p);
  return p;
}

/** Alice and Bob with a direct conversation. */
async function scene() {
  const alice = await fixture.api.register("alice");
  const bob = await fixture.api.register("bob");
  const conversation = await fixture.api.direct(alice.token, bob.id);
  return { alice, bob, conversationId: conversation.id };
}

/** The contents of `snapshot`'s confirmed messages that start with `prefix`, in the order held. */
function held(snapshot: MessagesSnapshot, prefix: string): string[] {
  return snapshot.items.filter((m) => m.content.startsWith(prefix)).map((m) => m.content);
}

/** `count` contents `prefix0 … prefix<count-1>`: the order they were sent in. */
function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** Seqs strictly increasing and each message id once: nothing held twice, nothing out of order. */
function expectInSeqOrderOnce(snapshot: MessagesSnapshot): void {
  const seqs = snapshot.items.map((m) => m.seq);
  expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(new Set(snapshot.items.map((m) => m.id)).size).toBe(snapshot.items.length);
}

/** Resolves once MongoDB holds exactly `contents` for the conversation, each once, in seq order. */
async function expectStoredOnce(conversationId: string, contents: readonly string[], prefix: string): Promise<void> {
  const { Message } = await fixture.models();
  const stored = await eventually(
    async () => {
      const docs = await Message.find({ conversationId }).sort({ seq: 1 }).lean();
      const mine = docs.filter((d) => d.content.startsWith(prefix));
      return mine.length >= contents.length ? mine : undefined;
    },
    30_000,
    `${contents.length} messages stored`,
  );
  expect(stored.map((d) => d.content)).toEqual(contents);
  expect(new Set(stored.map((d) => d.clientMsgId)).size).toBe(contents.length);
}

/** Sends `contents` in order and returns their clientMsgIds. */
function sendAll(client: ParleyClient, conversationId: string, contents: readonly string[]): string[] {
  const chat = client.conversation(conversationId);
  const ids = contents.map((content) => chat.send({ content }).clientMsgId);
  chat.release();
  return ids;
}

describe("the SDK through failures", () => {
  it("chats across two gateways: every message persisted at the sender and held once, in order, by the receiver", async () => {
    const { alice, bob, conversationId } = await scene();
    const a = await sdkClientOn(fixture, 0, alice);
    const b = await sdkClientOn(fixture, 1, bob);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded, "bob's first page");

    const ids = new Set(sendAll(a, conversationId, numbered("x", 50)));
    const mine = await until(ca.messages, (m) => m.items.filter((i) => ids.has(i.clientMsgId) && i.state === "persisted").length === 50, "50 persisted at alice", 30_000);
    expect(mine.pending).toEqual([]);
    const theirs = await until(cb.messages, (m) => held(m, "x").length === 50, "50 messages at bob");
    expect(held(theirs, "x")).toEqual(numbered("x", 50));
    expectInSeqOrderOnce(theirs);
    await expectStoredOnce(conversationId, numbered("x", 50), "x");
  });

  it("loses nothing and duplicates nothing when the sender's gateway is SIGKILLed in the middle of 200 sends", async () => {
    const { alice, bob, conversationId } = await scene();
    const a = await sdkClientOn(fixture, 0, alice);
    const b = await sdkClientOn(fixture, 1, bob);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(ca.messages, (m) => m.loaded, "alice's first page");
    await until(cb.messages, (m) => m.loaded, "bob's first page");

    const contents = numbered("k", 200);
    for (const content of contents) ca.send({ content });
    await until(ca.messages, (m) => held(m, "k").length >= 20, "the first 20 acknowledged");
    const victim = fixture.cluster.gateways[0]!;
    await victim.kill();
    try {
      const done = await until(ca.messages, (m) => m.pending.length === 0 && held(m, "k").length === 200, "all 200 acknowledged after the crash", 60_000);
      expect(held(done, "k")).toEqual(contents);
      expectInSeqOrderOnce(done);
      expect(a.outbox.get()).toEqual([]);
      expect(gatewayOf(fixture, a)).toBe(1);
    } finally {
      await victim.start();
    }
    const theirs = await until(cb.messages, (m) => held(m, "k").length === 200, "all 200 at bob", 30_000);
    expect(held(theirs, "k")).toEqual(contents);
    expectInSeqOrderOnce(theirs);
    await expectStoredOnce(conversationId, contents, "k");
  });

  it("keeps what is written offline and sends it in order, once each, when the network is back", async () => {
    const { alice, bob, conversationId } = await scene();
    const net = await proxy();
    const a = await sdkClient(fixture, alice, { url: net.url });
    const b = await sdkClient(fixture, bob);
    await Promise.all([a.connect(), b.connect()]);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(ca.messages, (m) => m.loaded, "alice's first page");

    net.cut();
    await until(a.connection, (c) => c.state !== "ready", "alice offline");
    const contents = numbered("o", 20);
    for (const content of contents) ca.send({ content });
    expect(ca.messages.get().pending.map((m) => [m.content, m.state])).toEqual(contents.map((c) => [c, "pending"]));
    expect(a.outbox.get()).toHaveLength(20);

    net.restore();
    const done = await until(ca.messages, (m) => m.pending.length === 0 && held(m, "o").length === 20, "20 sent after reconnecting", 30_000);
    expect(held(done, "o")).toEqual(contents);
    const theirs = await until(cb.messages, (m) => held(m, "o").length === 20, "20 at bob");
    expect(held(theirs, "o")).toEqual(contents);
    expectInSeqOrderOnce(theirs);
    await expectStoredOnce(conversationId, contents, "o");
  });

  it("sends what an earlier client left in its outbox storage, from a new client on the same storage", async () => {
    const { alice, bob, conversationId } = await scene();
    const storage = memoryStorage();
    const net = await proxy();
    const first = await sdkClient(fixture, alice, { url: net.url, storage });
    await first.connect();
    const chat = first.conversation(conversationId);
    await until(chat.messages, (m) => m.loaded, "alice's first page");
    net.cut();
    await until(first.connection, (c) => c.state !== "ready", "alice offline");
    const contents = numbered("s", 20);
    for (const content of contents) chat.send({ content });
    await first.dispose();
    expect((await storage.load()).map((m) => m.content)).toEqual(contents);

    net.restore();
    const b = await sdkClient(fixture, bob);
    await b.connect();
    const cb = b.conversation(conversationId);
    const second = await sdkClient(fixture, alice, { url: net.url, storage });
    await second.connect();
    await until(second.outbox, (o) => o.length === 0, "the stored outbox drained", 30_000);
    const theirs = await until(cb.messages, (m) => held(m, "s").length === 20, "20 at bob");
    expect(held(theirs, "s")).toEqual(contents);
    expect(await storage.load()).toEqual([]);
    await expectStoredOnce(conversationId, contents, "s");
  });

  it("fills the gap of what was sent while the receiver's socket was away", async () => {
    const { alice, bob, conversationId } = await scene();
    const net = await proxy();
    const a = await sdkClient(fixture, alice);
    const b = await sdkClient(fixture, bob, { url: net.url });
    await Promise.all([a.connect(), b.connect()]);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded, "bob's first page");
    sendAll(a, conversationId, ["g-before"]);
    await until(cb.messages, (m) => held(m, "g-").length === 1, "the first message at bob");

    net.cut();
    await until(b.connection, (c) => c.state !== "ready", "bob offline");
    const missed = numbered("g-missed", 10);
    const ca = a.conversation(conversationId);
    for (const content of missed) ca.send({ content });
    await until(ca.messages, (m) => m.pending.length === 0, "alice's 10 acknowledged");
    net.restore();

    const theirs = await until(cb.messages, (m) => held(m, "g-").length === 11, "the gap filled", 30_000);
    expect(held(theirs, "g-")).toEqual(["g-before", ...missed]);
    expectInSeqOrderOnce(theirs);
  });

  it("fills the gap of a message:new that never arrived, from the next one's seq", async () => {
    const { alice, bob, conversationId } = await scene();
    let dropped = 0;
    // Loses the first `message:new` carrying "drop-me", as a flaky network path would.
    const lossy: SocketFactory = (options) => {
      const socket = socketIoFactory(options);
      return {
        get connected() {
          return socket.connected;
        },
        get active() {
          return socket.active;
        },
        connect: () => socket.connect(),
        disconnect: () => socket.disconnect(),
        request: (event, payload, timeoutMs) => socket.request(event, payload, timeoutMs),
        volatile: (event, payload) => socket.volatile(event, payload),
        close: () => socket.close(),
        on(event, listener) {
          if (event !== "message:new") return socket.on(event, listener);
          const deliver = listener as unknown as SocketEvents["message:new"];
          socket.on("message:new", (m) => {
            if (m.content === "drop-me" && dropped++ === 0) return;
            deliver(m);
          });
        },
      };
    };
    const a = await sdkClient(fixture, alice);
    const b = await sdkClient(fixture, bob, { createSocket: lossy });
    await Promise.all([a.connect(), b.connect()]);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded, "bob's first page");

    sendAll(a, conversationId, ["drop-me", "d-after"]);
    const theirs = await until(cb.messages, (m) => m.items.some((i) => i.content === "drop-me") && held(m, "d-").length === 1, "the dropped message recovered");
    expect(dropped).toBe(1);
    expect(theirs.items.map((m) => m.content)).toEqual(["drop-me", "d-after"]);
    expectInSeqOrderOnce(theirs);
  });

  it("raises a discontinuity when the conversation's Redis state is lost, and ends with the list the server has", async () => {
    const { alice, bob, conversationId } = await scene();
    const a = await sdkClient(fixture, alice);
    const b = await sdkClient(fixture, bob);
    await Promise.all([a.connect(), b.connect()]);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded, "bob's first page");
    const discontinuities: Discontinuity[] = [];
    cb.onDiscontinuity((d) => discontinuities.push(d));

    const stored = numbered("e-stored", 5);
    for (const content of stored) ca.send({ content });
    await until(ca.messages, (m) => m.items.filter((i) => i.state === "persisted").length === 5, "5 persisted", 30_000);
    const { Conversation } = await fixture.models();
    await eventually(async () => (await Conversation.findById(conversationId).lean())?.lastSeq === 5, 10_000, "lastSeq 5");

    await fixture.cluster.worker.stop();
    try {
      for (const content of numbered("e-lost", 3)) ca.send({ content });
      await until(cb.messages, (m) => held(m, "e-lost").length === 3, "the 3 doomed messages at bob");
      // This cluster's private Redis loses everything: counters, streams, queued jobs.
      await fixture.redis.flushall();
    } finally {
      await fixture.cluster.worker.start();
    }

    sendAll(a, conversationId, ["e-new"]);
    await until(ca.messages, (m) => m.pending.length === 0, "the new message acknowledged", 15_000);
    // Bob's client learns of the new epoch from its next sync: the one after a reconnect, or this one.
    await cb.sync();
    const end = await until(cb.messages, (m) => held(m, "e-new").length === 1 && held(m, "e-lost").length === 0, "bob's list rebuilt", 15_000);
    expect(discontinuities).toContainEqual({ reason: "epoch", epochBase: 5 });
    expect(end.items.map((m) => [m.seq, m.content])).toEqual([...stored.map((c, i) => [i + 1, c]), [6, "e-new"]]);
  });

  it("gets a new token from getToken when the access token expires mid-session, and loses nothing", async () => {
    const { alice, bob, conversationId } = await scene();
    const auth = createSessionAuth({ url: fixture.cluster.url });
    await auth.login({ username: alice.user.username, password: TEST_PASSWORD });
    const issued = new Set<string>();
    const a = await sdkClient(fixture, alice, {
      getToken: async (hint) => {
        const token = await auth.getToken(hint);
        issued.add(token);
        return token;
      },
    });
    const b = await sdkClient(fixture, bob);
    await Promise.all([a.connect(), b.connect()]);
    const ca = a.conversation(conversationId);
    const cb = b.conversation(conversationId);
    await until(cb.messages, (m) => m.loaded, "bob's first page");
    const session = a.connection.get().sessionId;

    // A message before and after each of two refreshes: the socket outlives three access tokens.
    const contents: string[] = [];
    for (let refreshes = 0; refreshes <= 2; refreshes++) {
      await eventually(() => issued.size > refreshes, 2 * ACCESS_TOKEN_TTL_SECONDS * 1_000, `token ${refreshes + 1}`);
      const content = `t${refreshes}`;
      contents.push(content);
      ca.send({ content });
      await until(ca.messages, (m) => m.pending.length === 0, `${content} acknowledged`, 15_000);
    }
    expect(a.connection.get()).toMatchObject({ state: "ready", sessionId: session });
    const theirs = await until(cb.messages, (m) => held(m, "t").length === contents.length, "every message at bob");
    expect(held(theirs, "t")).toEqual(contents);
    await expectStoredOnce(conversationId, contents, "t");
  }, 120_000);
});
