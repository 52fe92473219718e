import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONV, CONV2, connected, flush, msg, setup, USER } from "../testing/harness.js";
import { memoryStorage } from "./storage.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const ack = (seq: number, clientMsgId: string, conversationId = CONV) => ({ message: msg(seq, { clientMsgId, conversationId, senderId: USER }) });

describe("the outbox", () => {
  it("sends nothing before session:ready, then everything in order with the same clientMsgId", async () => {
    const s = setup();
    const conv = s.client.conversation(CONV);
    const a = conv.send({ content: "one" });
    const b = conv.send({ content: "two" });
    expect(a.state).toBe("pending");
    expect(s.client.outbox.get().map((m) => m.content)).toEqual(["one", "two"]);
    expect(conv.messages.get().pending.map((m) => m.clientMsgId)).toEqual([a.clientMsgId, b.clientMsgId]);
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "message:send")).toHaveLength(0);

    await connected(s);
    // One in flight per conversation: the second waits for the first's ack.
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([a.clientMsgId]);
    s.socket.ok("message:send", ack(1, a.clientMsgId));
    await flush();
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([b.clientMsgId]);
    expect(conv.messages.get().items.map((m) => [m.clientMsgId, m.state])).toEqual([[a.clientMsgId, "sent"]]);
    expect(conv.messages.get().pending.map((m) => m.clientMsgId)).toEqual([b.clientMsgId]);
    s.socket.ok("message:send", ack(2, b.clientMsgId));
    await flush();
    expect(s.client.outbox.get()).toEqual([]);
    expect(conv.messages.get().pending).toEqual([]);
    await s.client.dispose();
  });

  it("drains conversations independently", async () => {
    const s = setup();
    await connected(s);
    s.client.conversation(CONV).send({ content: "a" });
    s.client.conversation(CONV2).send({ content: "b" });
    await flush();
    expect(s.socket.pending("message:send").map((r) => r.payload.conversationId)).toEqual([CONV, CONV2]);
    await s.client.dispose();
  });

  it("re-sends the same clientMsgId after an ack timeout, and after a reconnect", async () => {
    const s = setup({ ackTimeoutMs: 10_000 });
    await connected(s);
    const m = s.client.conversation(CONV).send({ content: "hi" });
    await flush();
    expect(s.socket.pending("message:send")).toHaveLength(1);
    await flush(10_000);
    const sends = s.socket.requests.filter((r) => r.event === "message:send");
    expect(sends).toHaveLength(2);
    expect(sends.map((r) => r.payload.clientMsgId)).toEqual([m.clientMsgId, m.clientMsgId]);

    s.socket.drop();
    await flush(60_000);
    expect(s.socket.requests.filter((r) => r.event === "message:send")).toHaveLength(2);
    await s.socket.open();
    await flush();
    const after = s.socket.requests.filter((r) => r.event === "message:send");
    expect(after).toHaveLength(3);
    expect(after[2]?.payload.clientMsgId).toBe(m.clientMsgId);
    await s.client.dispose();
  });

  it("waits retryAfterMs after RATE_LIMITED, keeping the message pending", async () => {
    const s = setup();
    await connected(s);
    const m = s.client.conversation(CONV).send({ content: "hi" });
    await flush();
    s.socket.fail("message:send", { code: "RATE_LIMITED", message: "slow down", retryAfterMs: 1200 });
    await flush(1199);
    expect(s.socket.pending("message:send")).toHaveLength(0);
    expect(s.client.outbox.get()[0]).toMatchObject({ state: "pending", error: { code: "RATE_LIMITED" } });
    await flush(1);
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([m.clientMsgId]);
    await s.client.dispose();
  });

  it("retries retryable errors with backoff, and fails on the others; retry and discard", async () => {
    const s = setup({ backoff: { baseMs: 100, maxMs: 100 } });
    await connected(s);
    const conv = s.client.conversation(CONV);
    const a = conv.send({ content: "a" });
    const b = conv.send({ content: "b" });
    await flush();
    s.socket.fail("message:send", { code: "UNAVAILABLE", message: "redis" });
    await flush(100);
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([a.clientMsgId]);
    s.socket.fail("message:send", { code: "FORBIDDEN", message: "not a member" });
    await flush();
    expect(s.client.outbox.get().map((m) => [m.content, m.state])).toEqual([["a", "failed"], ["b", "pending"]]);
    expect(conv.messages.get().pending[0]?.error?.code).toBe("FORBIDDEN");
    // The next one goes on.
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([b.clientMsgId]);
    s.socket.ok("message:send", ack(1, b.clientMsgId));
    await flush();

    conv.retry(a.clientMsgId);
    await flush();
    expect(s.socket.pending("message:send").map((r) => r.payload.clientMsgId)).toEqual([a.clientMsgId]);
    s.socket.fail("message:send", { code: "VALIDATION", message: "too long" });
    await flush();
    conv.discard(a.clientMsgId);
    expect(s.client.outbox.get()).toEqual([]);
    expect(conv.messages.get().pending).toEqual([]);
    await s.client.dispose();
  });

  it("persists every change, and a new client on the same storage sends what was pending", async () => {
    const storage = memoryStorage();
    const put = vi.spyOn(storage, "put");
    const del = vi.spyOn(storage, "delete");
    const first = setup({ storage });
    const a = first.client.conversation(CONV).send({ content: "before the reload" });
    const b = first.client.conversation(CONV).send({ content: "second" });
    await first.client.dispose();
    expect(put).toHaveBeenCalledTimes(2);
    expect((await storage.load()).map((m) => m.clientMsgId)).toEqual([a.clientMsgId, b.clientMsgId]);

    const second = setup({ storage });
    await flush();
    expect(second.client.outbox.get().map((m) => m.clientMsgId)).toEqual([a.clientMsgId, b.clientMsgId]);
    await connected(second);
    expect(second.socket.pending("message:send").map((r) => r.payload)).toEqual([
      { conversationId: CONV, clientMsgId: a.clientMsgId, content: "before the reload", type: "text" },
    ]);
    second.socket.ok("message:send", ack(1, a.clientMsgId));
    await flush();
    expect(del).toHaveBeenCalledWith(a.clientMsgId);
    second.socket.fail("message:send", { code: "FORBIDDEN", message: "no" });
    await flush();
    await second.client.dispose();
    // A failed message is stored as failed, with its error.
    const stored = await storage.load();
    expect(stored.map((m) => [m.clientMsgId, m.state, m.error?.code])).toEqual([[b.clientMsgId, "failed", "FORBIDDEN"]]);
  });

  it("the ack updates the conversation list, as the sender's own message", async () => {
    const s = setup();
    await connected(s);
    const m = s.client.conversation(CONV).send({ content: "x" });
    await flush();
    expect(s.socket.pending("message:send")).toHaveLength(1);
    // The list is empty in this test (no views): nothing to update, and nothing breaks.
    s.socket.ok("message:send", ack(5, m.clientMsgId));
    await flush();
    expect(s.client.outbox.get()).toEqual([]);
    await s.client.dispose();
  });
});
