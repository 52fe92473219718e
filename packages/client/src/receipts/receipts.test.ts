import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONV, connected, flush, msg, OTHER, setup, USER, view } from "../testing/harness.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("receipts", () => {
  it("sends delivered for the highest seq from others, debounced 200 ms, never for own messages, never backwards", async () => {
    const s = setup();
    await connected(s);
    s.socket.push("message:new", msg(1));
    s.socket.push("message:new", msg(3));
    s.socket.push("message:new", msg(2));
    s.socket.push("message:new", msg(4, { senderId: USER }));
    await flush(199);
    expect(s.socket.pending("conversation:delivered")).toEqual([]);
    await flush(1);
    expect(s.socket.pending("conversation:delivered").map((r) => r.payload)).toEqual([{ conversationId: CONV, seq: 3 }]);
    s.socket.ok("conversation:delivered", { seq: 3 });
    s.socket.push("message:new", msg(2));
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "conversation:delivered")).toHaveLength(1);
    await s.client.dispose();
  });

  it("markRead is debounced 500 ms, sends only the highest, and moves the unread count from the ack", async () => {
    const s = setup();
    s.api.views = [view(CONV, { lastSeq: 10, unreadCount: 10 })];
    await connected(s);
    const conv = s.client.conversation(CONV);
    await flush();
    expect(conv.receipts.get()).toMatchObject({ unread: 10 });
    conv.markRead(4);
    conv.markRead(9);
    conv.markRead(7);
    await flush(499);
    expect(s.socket.pending("conversation:read")).toEqual([]);
    await flush(1);
    expect(s.socket.pending("conversation:read").map((r) => r.payload)).toEqual([{ conversationId: CONV, seq: 9 }]);
    // A lower seq while in flight, then the ack.
    conv.markRead(5);
    s.socket.ok("conversation:read", { seq: 9 });
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "conversation:read")).toHaveLength(1);
    expect(conv.receipts.get()).toMatchObject({ unread: 1, read: { [USER]: 9 }, delivered: { [USER]: 9 } });
    // Reading implies delivered: no delivered request below it.
    s.socket.push("message:new", msg(8));
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "conversation:delivered")).toHaveLength(0);
    await s.client.dispose();
  });

  it("resends the highest unacknowledged pointer after a reconnect", async () => {
    const s = setup();
    await connected(s);
    const conv = s.client.conversation(CONV);
    conv.markRead(4);
    await flush(500);
    expect(s.socket.pending("conversation:read")).toHaveLength(1);
    s.socket.drop();
    conv.markRead(6);
    await flush(5000);
    await s.socket.open();
    await flush();
    expect(s.socket.pending("conversation:read").map((r) => r.payload)).toEqual([{ conversationId: CONV, seq: 6 }]);
    s.socket.ok("conversation:read", { seq: 6 });
    await flush();
    s.socket.drop();
    await s.socket.open();
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "conversation:read")).toHaveLength(2);
    await s.client.dispose();
  });

  it("follows pointer events only forward, and the own read of another device clears the unread count", async () => {
    const s = setup();
    s.api.views = [view(CONV, { lastSeq: 5, unreadCount: 5 })];
    await connected(s);
    const conv = s.client.conversation(CONV);
    await flush();
    s.socket.push("conversation:read", { conversationId: CONV, userId: OTHER, seq: 4, at: "" });
    s.socket.push("conversation:read", { conversationId: CONV, userId: OTHER, seq: 2, at: "" });
    s.socket.push("conversation:delivered", { conversationId: CONV, userId: OTHER, seq: 3, at: "" });
    expect(conv.receipts.get()).toMatchObject({ read: { [OTHER]: 4 }, delivered: { [OTHER]: 4 }, unread: 5 });
    s.socket.push("conversation:read", { conversationId: CONV, userId: USER, seq: 5, at: "" });
    expect(conv.receipts.get().unread).toBe(0);
    // The other device read: this one never sends a read (or delivered) below it.
    conv.markRead(3);
    await flush(1000);
    expect(s.socket.requests.filter((r) => r.event === "conversation:read")).toHaveLength(0);
    await s.client.dispose();
  });
});
