import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONV, CONV2, connected, flush, msg, OTHER, setup, USER, view } from "../testing/harness.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("the conversation list", () => {
  it("loads after every session:ready and stays live: new messages to the top, unread counts, own messages", async () => {
    const s = setup();
    s.api.views = [view(CONV, { lastSeq: 2, unreadCount: 2 }), view(CONV2, { lastSeq: 0 })];
    await connected(s);
    expect(s.client.conversations.get().map((c) => [c.id, c.unreadCount])).toEqual([[CONV, 2], [CONV2, 0]]);

    s.socket.push("message:new", msg(1, { conversationId: CONV2 }));
    expect(s.client.conversations.get().map((c) => [c.id, c.unreadCount, c.lastSeq])).toEqual([[CONV2, 1, 1], [CONV, 2, 2]]);
    // The same message twice (a resend seen twice) counts once.
    s.socket.push("message:new", msg(1, { conversationId: CONV2 }));
    expect(s.client.conversations.get()[0]?.unreadCount).toBe(1);
    // Sent from another device of this user: read up to it.
    s.socket.push("message:new", msg(3, { senderId: USER }));
    expect(s.client.conversations.get()[0]).toMatchObject({ id: CONV, unreadCount: 0, lastSeq: 3, readPointers: { [USER]: 3 } });
    expect(s.client.conversations.get()[0]?.lastMessage?.seq).toBe(3);

    s.socket.drop();
    s.api.views = [view(CONV, { lastSeq: 3 })];
    await s.socket.open();
    await flush();
    expect(s.api.listCalls).toBe(2);
    expect(s.client.conversations.get().map((c) => c.id)).toEqual([CONV]);
    await s.client.dispose();
  });

  it("counts messages not stored yet (the listing's lastSeq lags), and follows edits of the last message", async () => {
    const s = setup();
    s.api.views = [view(CONV, { lastSeq: 2, unreadCount: 4, readPointers: { [USER]: 1, [OTHER]: 5 } })];
    await connected(s);
    expect(s.client.conversations.get()[0]).toMatchObject({ lastSeq: 5, unreadCount: 4 });
    s.socket.push("message:new", msg(6));
    s.socket.push("message:updated", msg(6, { content: "edited", rev: 1 }));
    expect(s.client.conversations.get()[0]).toMatchObject({ unreadCount: 5, lastMessage: { content: "edited" } });
    s.socket.push("message:deleted", { id: msg(6).id, conversationId: CONV });
    expect(s.client.conversations.get()[0]?.lastMessage?.content).toBe("");
    await s.client.dispose();
  });

  it("adds created conversations, and drops one this user was removed from", async () => {
    const s = setup();
    await connected(s);
    const { unreadCount: _u, readPointers: _r, deliveredPointers: _d, ...conversation } = view(CONV);
    s.socket.push("conversation:created", { conversation });
    expect(s.client.conversations.get().map((c) => c.id)).toEqual([CONV]);
    s.socket.push("conversation:updated", { conversation: { ...conversation, name: "renamed" } });
    expect(s.client.conversations.get()[0]?.name).toBe("renamed");
    s.socket.push("conversation:updated", { conversation: { ...conversation, members: [OTHER] } });
    expect(s.client.conversations.get()).toEqual([]);
    await s.client.dispose();
  });

  it("retries a failed load with backoff while connected", async () => {
    const s = setup({ backoff: { baseMs: 100, maxMs: 100 } });
    const list = vi.spyOn(s.api, "list").mockRejectedValueOnce(Object.assign(new Error("down"), { code: "UNAVAILABLE", message: "down" }));
    await connected(s);
    expect(list).toHaveBeenCalledTimes(1);
    await flush(100);
    expect(list).toHaveBeenCalledTimes(2);
    await s.client.dispose();
  });
});
