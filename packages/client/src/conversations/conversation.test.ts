import type { SyncResult } from "@parley/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONV, connected, flush, msg, setup, USER } from "../testing/harness.js";
import type { Discontinuity } from "./sync.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const result = (over: Partial<SyncResult>): SyncResult => ({ messages: [], hasMore: false, epoch: "e1", epochBase: 0, recovered: true, ...over });

/** A connected client with CONV open: its first page (seqs 1..3) loaded and its first sync answered. */
async function opened() {
  const s = setup({ backoff: { baseMs: 1000, maxMs: 1000 } });
  s.api.messages.set(CONV, [msg(1), msg(2), msg(3)]);
  await connected(s);
  const conv = s.client.conversation(CONV);
  const discontinuities: Discontinuity[] = [];
  conv.onDiscontinuity((d) => discontinuities.push(d));
  await flush();
  expect(s.socket.pending("sync").map((r) => r.payload)).toEqual([{ conversationId: CONV, afterSeq: 3, limit: 200 }]);
  s.socket.ok("sync", result({}));
  await flush();
  return { ...s, conv, discontinuities };
}

describe("a conversation", () => {
  it("loads its newest page, then syncs from its last seq and stores the epoch", async () => {
    const { conv, client } = await opened();
    expect(conv.messages.get()).toMatchObject({ last: 3, epoch: "e1", hasOlder: false, loaded: true });
    expect(conv.messages.get().items.map((m) => m.seq)).toEqual([1, 2, 3]);
    await client.dispose();
  });

  it("pages the sync until hasMore is false", async () => {
    const { conv, socket, client } = await opened();
    const sync = conv.sync();
    await flush();
    socket.ok("sync", result({ messages: [msg(4), msg(5)], hasMore: true }));
    await flush();
    expect(socket.pending("sync").map((r) => r.payload)).toEqual([{ conversationId: CONV, afterSeq: 5, epoch: "e1", limit: 200 }]);
    socket.ok("sync", result({ messages: [msg(6)] }));
    expect(await sync).toEqual({ recovered: true });
    expect(conv.messages.get().last).toBe(6);
    await client.dispose();
  });

  it("waits a short grace on a gap (out-of-order arrival), and syncs the gap only if it stays open", async () => {
    const { conv, socket, client } = await opened();
    socket.push("message:new", msg(5));
    socket.push("message:new", msg(4));
    await flush(1000);
    expect(socket.pending("sync")).toEqual([]);
    expect(conv.messages.get().last).toBe(5);

    socket.push("message:new", msg(8));
    expect(conv.messages.get()).toMatchObject({ last: 5 });
    await flush(399);
    expect(socket.pending("sync")).toEqual([]);
    await flush(1);
    expect(socket.pending("sync").map((r) => r.payload.afterSeq)).toEqual([5]);
    socket.ok("sync", result({ messages: [msg(6), msg(7), msg(8)] }));
    await flush();
    expect(conv.messages.get().last).toBe(8);
    expect(conv.messages.get().items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await client.dispose();
  });

  it("on a new epoch drops what it held above the base, tells the app, and goes on from the base", async () => {
    const { conv, socket, client, discontinuities } = await opened();
    socket.push("message:new", msg(4));
    socket.push("message:new", msg(5));
    const sync = conv.sync();
    await flush();
    socket.ok("sync", result({ epoch: "e2", epochBase: 3, recovered: false, messages: [msg(4, { id: "4".repeat(24), content: "new 4" })] }));
    await flush();
    expect(discontinuities).toEqual([{ reason: "epoch", epochBase: 3 }]);
    expect(conv.messages.get().items.map((m) => m.content)).toEqual(["m1", "m2", "m3", "new 4"]);
    expect(socket.pending("sync").map((r) => r.payload)).toEqual([{ conversationId: CONV, afterSeq: 4, epoch: "e2", limit: 200 }]);
    socket.ok("sync", result({ epoch: "e2", epochBase: 3 }));
    expect(await sync).toEqual({ recovered: true });
    expect(conv.messages.get()).toMatchObject({ last: 4, epoch: "e2" });
    await client.dispose();
  });

  it("when the server cannot fill a gap, tells the app once and retries with backoff", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { conv, socket, client, discontinuities } = await opened();
    const sync = conv.sync();
    await flush();
    socket.ok("sync", result({ recovered: false, messages: [msg(5)] }));
    expect(await sync).toEqual({ recovered: false });
    expect(discontinuities).toEqual([{ reason: "missing" }]);
    expect(conv.messages.get().last).toBe(3);
    await flush(499);
    expect(socket.pending("sync")).toEqual([]);
    await flush(1);
    expect(socket.pending("sync").map((r) => r.payload.afterSeq)).toEqual([3]);
    socket.ok("sync", result({ recovered: false }));
    await flush(500);
    expect(discontinuities).toHaveLength(1);
    socket.ok("sync", result({ messages: [msg(4), msg(5)] }));
    await flush(10_000);
    expect(socket.pending("sync")).toEqual([]);
    expect(conv.messages.get().last).toBe(5);
    await client.dispose();
  });

  it("syncs again after every session:ready, and clears typing", async () => {
    const { conv, socket, client } = await opened();
    socket.push("typing", { conversationId: CONV, userId: "f".repeat(24), isTyping: true });
    expect(conv.typing.get()).toEqual(["f".repeat(24)]);
    socket.drop();
    expect(conv.typing.get()).toEqual([]);
    await socket.open();
    await flush();
    expect(socket.pending("sync").map((r) => r.payload.afterSeq)).toEqual([3]);
    await client.dispose();
  });

  it("merges message:updated, message:deleted and message:reaction by rev, and edit acks", async () => {
    const { conv, socket, client } = await opened();
    const id = msg(2).id;
    socket.push("message:updated", msg(2, { content: "edited", rev: 2 }));
    socket.push("message:updated", msg(2, { content: "older", rev: 1 }));
    expect(conv.messages.get().items[1]?.content).toBe("edited");
    socket.push("message:reaction", { messageId: id, conversationId: CONV, userId: USER, emoji: "🎉", added: true });
    expect(conv.messages.get().items[1]?.reactions).toEqual({ "🎉": [USER] });
    const edit = conv.edit(msg(3).id, "mine");
    await flush();
    expect(socket.pending("message:edit").map((r) => r.payload)).toEqual([{ conversationId: CONV, messageId: msg(3).id, content: "mine" }]);
    socket.ok("message:edit", { message: msg(3, { content: "mine", rev: 1 }) });
    expect((await edit).content).toBe("mine");
    expect(conv.messages.get().items[2]?.content).toBe("mine");
    socket.push("message:deleted", { id, conversationId: CONV });
    expect(conv.messages.get().items[1]).toMatchObject({ content: "", deletedAt: expect.any(String) });
    const refused = conv.remove(id);
    socket.fail("message:delete", { code: "FORBIDDEN", message: "not yours" });
    await expect(refused).rejects.toMatchObject({ code: "FORBIDDEN", retryable: false });
    await client.dispose();
  });

  it("keeps attachments, and takes the worker's description (a thumbnail) with a higher rev, even when it overtakes the message", async () => {
    const { conv, socket, client } = await opened();
    const photo = { id: "f".repeat(24), name: "beach.jpg", size: 1234, contentType: "image/jpeg", kind: "image" as const };
    socket.push("message:new", msg(4, { type: "image", content: "", attachments: [photo] }));
    expect(conv.messages.get().items[3]?.attachments).toEqual([photo]);
    const described = { ...photo, width: 800, height: 600, thumbnail: { width: 320, height: 240, contentType: "image/webp" } };
    socket.push("message:updated", msg(4, { type: "image", content: "", rev: 1, attachments: [described] }));
    expect(conv.messages.get().items[3]?.attachments).toEqual([described]);
    // A late copy of the first state changes nothing.
    socket.push("message:new", msg(4, { type: "image", content: "", attachments: [photo] }));
    expect(conv.messages.get().items[3]?.attachments).toEqual([described]);

    // The description of seq 5 arrives before its message:new: it is that message, and the older state loses.
    socket.push("message:updated", msg(5, { rev: 1, attachments: [described] }));
    expect(conv.messages.get()).toMatchObject({ last: 5 });
    socket.push("message:new", msg(5, { attachments: [photo] }));
    expect(conv.messages.get().items.map((m) => [m.seq, m.attachments?.[0]?.thumbnail?.width])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
      [4, 320],
      [5, 320],
    ]);
    await client.dispose();
  });

  it("moves an acked message from pending into items as sent, then persisted", async () => {
    const { conv, socket, client } = await opened();
    const local = conv.send({ content: "hello" });
    await flush();
    socket.ok("message:send", { message: msg(4, { senderId: USER, clientMsgId: local.clientMsgId, content: "hello" }) });
    await flush();
    expect(conv.messages.get().pending).toEqual([]);
    expect(conv.messages.get().items.at(-1)).toMatchObject({ clientMsgId: local.clientMsgId, state: "sent", seq: 4 });
    socket.push("message:persisted", { id: msg(4).id, conversationId: CONV, seq: 4, clientMsgId: local.clientMsgId });
    expect(conv.messages.get().items.at(-1)?.state).toBe("persisted");
    await client.dispose();
  });

  it("keeps a message:persisted that overtakes the ack of its message", async () => {
    const { conv, socket, client } = await opened();
    const local = conv.send({ content: "hello" });
    await flush();
    socket.push("message:persisted", { id: msg(4).id, conversationId: CONV, seq: 4, clientMsgId: local.clientMsgId });
    expect(conv.messages.get().pending.map((p) => p.state)).toEqual(["pending"]);
    socket.ok("message:send", { message: msg(4, { senderId: USER, clientMsgId: local.clientMsgId, content: "hello" }) });
    await flush();
    expect(conv.messages.get().items.at(-1)).toMatchObject({ clientMsgId: local.clientMsgId, state: "persisted", seq: 4 });
    await client.dispose();
  });

  it("after a reconnect, reads again what it sent and never heard stored, and takes persisted from the sync", async () => {
    const { conv, socket, client } = await opened();
    const local = conv.send({ content: "hello" });
    await flush();
    const sent = msg(4, { senderId: USER, clientMsgId: local.clientMsgId, content: "hello" });
    socket.ok("message:send", { message: sent });
    await flush();
    // Its message:persisted went to a socket that is gone.
    socket.drop();
    await socket.open();
    await flush();
    expect(socket.pending("sync").map((r) => r.payload.afterSeq)).toEqual([3]);
    socket.ok("sync", result({ messages: [{ ...sent, persisted: true }] }));
    await flush();
    expect(conv.messages.get().items.at(-1)).toMatchObject({ seq: 4, state: "persisted" });
    expect(conv.messages.get().last).toBe(4);
    // Nothing unconfirmed any more: the next sync starts from the end.
    socket.drop();
    await socket.open();
    await flush();
    expect(socket.pending("sync").map((r) => r.payload.afterSeq)).toEqual([4]);
    await client.dispose();
  });

  it("loads older pages over REST", async () => {
    const s = setup();
    s.api.messages.set(CONV, Array.from({ length: 120 }, (_, i) => msg(i + 1)));
    await connected(s);
    const conv = s.client.conversation(CONV);
    await flush();
    expect(conv.messages.get()).toMatchObject({ last: 120, hasOlder: true });
    expect(conv.messages.get().items[0]?.seq).toBe(71);
    expect(await conv.loadOlder(50)).toBe(true);
    expect(s.api.historyCalls.at(-1)).toEqual({ id: CONV, before: 71, limit: 50 });
    expect(await conv.loadOlder(50)).toBe(false);
    expect(conv.messages.get().items.map((m) => m.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(conv.messages.get().hasOlder).toBe(false);
    await s.client.dispose();
  });

  it("is one state per id, reference-counted, freed 100 ms after the last release", async () => {
    const { client, conv } = await opened();
    conv.release();
    conv.release();
    // StrictMode: unmount and mount again at once keeps the state.
    const again = client.conversation(CONV);
    expect(again.messages).toBe(conv.messages);
    again.release();
    await flush(100);
    const fresh = client.conversation(CONV);
    expect(fresh.messages).not.toBe(conv.messages);
    fresh.release();
    await client.dispose();
  });
});
