/**
 * `sendFile` through the outbox, against a real HTTP server standing in for the object store (real
 * timers: the uploads are real requests): the pending message and its preview, the upload's progress,
 * each step remembered so that a retry does not upload again, and what starts over.
 */
import type { Message } from "@parley/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { ClientOptions } from "../client-core.js";
import type { LocalMessage } from "../outbox/local-message.js";
import { memoryStorage } from "../outbox/storage.js";
import { startObjectStore, type FakeObjectStore, type StoreRequest } from "../testing/object-store.js";
import { CONV, msg, setup, USER } from "../testing/harness.js";
import { until } from "../testing/until.js";
import type { LocalAttachment } from "./local-attachment.js";

let store: FakeObjectStore;
const clients: ReturnType<typeof setup>[] = [];
beforeAll(async () => void (store = await startObjectStore()));
afterAll(() => store.close());
afterEach(async () => {
  await Promise.all(clients.splice(0).map((s) => s.client.dispose()));
});

/** A client on fakes whose uploads go to the test's store; connected unless told otherwise. */
async function client(options: Partial<ClientOptions> = {}, connect = true) {
  const s = setup({ backoff: { baseMs: 1, maxMs: 1 }, ...options });
  s.api.storeUrl = store.url;
  clients.push(s);
  if (connect) {
    const ready = s.client.connect();
    await s.socket.open();
    await ready;
  }
  return s;
}

/** `n` bytes that are not all alike. */
function bytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >> 8)) & 255);
}

/** The uploads the store got for attachment `id`. */
const putsOf = (id: string | undefined): StoreRequest[] => store.requests.filter((r) => r.method === "PUT" && r.path === `/attachments/${id}`);

/** The acknowledgement of `local`, as the server would answer it, with the attachments of `ids`. */
function ackOf(local: LocalMessage, seq: number, ids: readonly string[]): { message: Message } {
  const attachments = (local.attachments ?? []).map((a, i) => ({ id: ids[i]!, name: a.name, size: a.size, contentType: a.contentType, kind: a.kind }));
  return { message: msg(seq, { senderId: USER, clientMsgId: local.clientMsgId, content: local.content, type: local.type, attachments }) };
}

/** A message as an outbox storage holds it after an earlier page load got as far as `attachment`. */
function stored(clientMsgId: string, file: Blob, attachment: Partial<LocalAttachment>): LocalMessage {
  return {
    clientMsgId,
    conversationId: CONV,
    content: "from before the reload",
    type: "file",
    state: "pending",
    queuedAt: 1,
    attachments: [{ name: "notes.txt", size: file.size, contentType: "text/plain", kind: "file", file, progress: 0, uploaded: false, ...attachment }],
  };
}

const upload = (id: string, expiresInMs: number) => ({
  url: `${store.url}/attachments/${id}`,
  method: "PUT" as const,
  headers: { "Content-Type": "text/plain" },
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
});

describe("sendFile", () => {
  it("shows the file at once as pending with its preview, reports the upload's progress, then sends it with its attachment id", async () => {
    const s = await client();
    const conv = s.client.conversation(CONV);
    const data = bytes(200_000);
    const file = new File([data], "beach.png", { type: "image/png" });
    const progress: number[] = [];
    conv.messages.subscribe(() => {
      const p = conv.messages.get().pending[0]?.attachments?.[0]?.progress;
      if (p !== undefined && p !== progress.at(-1)) progress.push(p);
    });

    const local = conv.sendFile(file, { caption: "the view" });
    expect(local).toMatchObject({ state: "pending", content: "the view", type: "image", senderId: USER });
    expect(local.attachments).toEqual([{ name: "beach.png", size: 200_000, contentType: "image/png", kind: "image", file, progress: 0, uploaded: false }]);
    expect(conv.messages.get().pending).toEqual([local]);

    const send = await s.socket.next("message:send");
    const id = s.api.created[0]?.id;
    expect(s.api.created).toEqual([{ conversationId: CONV, id, name: "beach.png", size: 200_000, contentType: "image/png" }]);
    expect(send.payload).toEqual({ conversationId: CONV, clientMsgId: local.clientMsgId, content: "the view", type: "image", attachmentIds: [id] });
    const [put] = putsOf(id);
    expect(put?.body).toEqual(data);
    // Exactly the presigned request: its headers, and no token.
    expect(put?.headers).toMatchObject({ "content-type": "image/png", "content-length": "200000" });
    expect(put?.headers.authorization).toBeUndefined();
    // Node.js has no XMLHttpRequest: fetch reports 0, then 1.
    expect(progress).toEqual([0, 1]);
    expect(conv.messages.get().pending[0]?.attachments?.[0]).toMatchObject({ id, uploaded: true, progress: 1 });
    expect(conv.messages.get().pending[0]?.attachments?.[0]?.upload).toBeUndefined();

    const ack = ackOf(local, 1, [id!]);
    send.respond({ ok: true, ...ack });
    const done = await until(conv.messages, (m) => m.pending.length === 0, "the ack");
    expect(done.items).toEqual([{ ...ack.message, state: "sent" }]);
    expect(s.client.outbox.get()).toEqual([]);
  });

  it("resends after a retryable refusal and after a reconnect with the same clientMsgId and attachment, uploading once", async () => {
    const s = await client();
    const conv = s.client.conversation(CONV);
    const local = conv.sendFile(new Blob([bytes(5000)], { type: "text/plain" }), { name: "notes.txt" });
    const first = await s.socket.next("message:send");
    first.respond({ ok: false, error: { code: "UNAVAILABLE", message: "redis is down" } });
    const second = await s.socket.next("message:send");
    expect(second.payload).toEqual(first.payload);
    s.socket.drop();
    await s.socket.open();
    const third = await s.socket.next("message:send");
    expect(third.payload).toEqual(first.payload);
    third.respond({ ok: true, ...ackOf(local, 1, [s.api.created[0]!.id]) });
    await until(conv.messages, (m) => m.pending.length === 0, "the ack");
    expect(s.api.created).toHaveLength(1);
    expect(putsOf(s.api.created[0]?.id)).toHaveLength(1);
  });

  it("a new client on the same storage sends an uploaded file without uploading it again", async () => {
    const storage = memoryStorage();
    const first = await client({ storage });
    const local = first.client.conversation(CONV).sendFile(new Blob([bytes(3000)], { type: "text/plain" }), { name: "a.txt" });
    const unanswered = await first.socket.next("message:send");
    await first.client.dispose();

    const second = await client({ storage });
    const again = await second.socket.next("message:send");
    expect(again.payload).toEqual(unanswered.payload);
    expect(second.api.created).toEqual([]);
    expect(putsOf(first.api.created[0]?.id)).toHaveLength(1);
    again.respond({ ok: true, ...ackOf(local, 1, [first.api.created[0]!.id]) });
    await until(second.client.outbox, (o) => o.length === 0, "the ack");
  });

  it("retries an upload the store answered 503 with the same presigned URL", async () => {
    const s = await client();
    store.refuse(503);
    s.client.conversation(CONV).sendFile(new Blob([bytes(1000)], { type: "text/plain" }));
    const send = await s.socket.next("message:send");
    const id = s.api.created[0]?.id;
    expect(s.api.created).toHaveLength(1);
    expect(putsOf(id).map((r) => r.status)).toEqual([503, 200]);
    expect(send.payload.attachmentIds).toEqual([id]);
  });

  it("a refused upload makes the message failed; retry starts over with a new attachment and sends it", async () => {
    const s = await client();
    const conv = s.client.conversation(CONV);
    store.refuse(403);
    const local = conv.sendFile(new Blob([bytes(1000)], { type: "text/plain" }), { name: "a.txt" });
    const failed = await until(conv.messages, (m) => m.pending[0]?.state === "failed", "the failure");
    expect(failed.pending[0]?.error).toMatchObject({ code: "FORBIDDEN", status: 403, retryable: false });
    expect(failed.pending[0]?.attachments?.[0]).toMatchObject({ progress: 0, uploaded: false });
    expect(failed.pending[0]?.attachments?.[0]?.id).toBeUndefined();
    expect(s.socket.pending("message:send")).toEqual([]);

    conv.retry(local.clientMsgId);
    const send = await s.socket.next("message:send");
    expect(s.api.created).toHaveLength(2);
    expect(send.payload).toMatchObject({ clientMsgId: local.clientMsgId, attachmentIds: [s.api.created[1]?.id] });
    send.respond({ ok: true, ...ackOf(local, 1, [s.api.created[1]!.id]) });
    const done = await until(conv.messages, (m) => m.pending.length === 0, "the ack");
    expect(done.items.map((m) => m.attachments?.map((a) => a.id))).toEqual([[s.api.created[1]?.id]]);
  });

  it("a refusal from the API fails the message (QUOTA_EXCEEDED); RATE_LIMITED waits and goes on", async () => {
    const s = await client();
    const conv = s.client.conversation(CONV);
    s.api.createErrors.push({ code: "QUOTA_EXCEEDED", message: "full" }, { code: "RATE_LIMITED", message: "slow down", retryAfterMs: 20 });
    const a = conv.sendFile(new Blob([bytes(10)], { type: "text/plain" }));
    const b = conv.sendFile(new Blob([bytes(20)], { type: "text/plain" }));
    const send = await s.socket.next("message:send");
    expect(send.payload).toMatchObject({ clientMsgId: b.clientMsgId, attachmentIds: [s.api.created[0]?.id] });
    expect(conv.messages.get().pending.map((m) => [m.clientMsgId, m.state, m.error?.code])).toEqual([
      [a.clientMsgId, "failed", "QUOTA_EXCEEDED"],
      [b.clientMsgId, "pending", "RATE_LIMITED"],
    ]);
  });

  it("a stored presigned URL close to its expiry is not used: the file starts over", async () => {
    const storage = memoryStorage();
    const file = new Blob([bytes(400)], { type: "text/plain" });
    await storage.put(stored("expiring", file, { id: "old1", upload: upload("old1", 30_000) }));
    const s = await client({ storage });
    const send = await s.socket.next("message:send");
    const id = s.api.created[0]?.id;
    expect(send.payload).toMatchObject({ clientMsgId: "expiring", content: "from before the reload", attachmentIds: [id] });
    expect(putsOf(id).map((r) => r.body)).toEqual([new Uint8Array(await file.arrayBuffer())]);
    expect(putsOf("old1")).toEqual([]);
  });

  it("a stored presigned URL the store refuses starts over, once", async () => {
    const storage = memoryStorage();
    await storage.put(stored("refused", new Blob([bytes(400)], { type: "text/plain" }), { id: "old2", upload: upload("old2", 300_000) }));
    store.refuse(403, { path: "/attachments/old2" });
    const s = await client({ storage });
    const send = await s.socket.next("message:send");
    expect(putsOf("old2").map((r) => r.status)).toEqual([403]);
    expect(send.payload.attachmentIds).toEqual([s.api.created[0]?.id]);
    expect(putsOf(s.api.created[0]?.id).map((r) => r.status)).toEqual([200]);
  });

  it("an uploaded attachment the server no longer knows is uploaded again; a refusal of a fresh one is final", async () => {
    const storage = memoryStorage();
    await storage.put(stored("swept", new Blob([bytes(400)], { type: "text/plain" }), { id: "old3", uploaded: true, progress: 1 }));
    const s = await client({ storage });
    const conv = s.client.conversation(CONV);
    const first = await s.socket.next("message:send");
    expect(first.payload.attachmentIds).toEqual(["old3"]);
    first.respond({ ok: false, error: { code: "VALIDATION", message: "Invalid attachments", issues: [{ path: "attachmentIds.0", message: "no such attachment" }] } });
    const second = await s.socket.next("message:send");
    const id = s.api.created[0]?.id;
    expect(second.payload).toMatchObject({ clientMsgId: "swept", attachmentIds: [id] });
    expect(putsOf(id)).toHaveLength(1);

    second.respond({ ok: false, error: { code: "VALIDATION", message: "Invalid attachments", issues: [{ path: "attachmentIds.0", message: "its content is not text/plain" }] } });
    const failed = await until(conv.messages, (m) => m.pending[0]?.state === "failed", "the failure");
    expect(failed.pending[0]?.error?.issues).toEqual([{ path: "attachmentIds.0", message: "its content is not text/plain" }]);
    expect(s.api.created).toHaveLength(1);
    expect(s.socket.pending("message:send")).toEqual([]);
  });

  it("a storage that did not keep the file fails the message, saying so", async () => {
    const storage = memoryStorage();
    // What a JSON storage gives back for a Blob.
    await storage.put(stored("lost", {} as Blob, { size: 10 }));
    const s = await client({ storage });
    const failed = await until(s.client.outbox, (o) => o[0]?.state === "failed", "the failure");
    expect(failed[0]?.error).toMatchObject({ code: "VALIDATION", message: expect.stringMatching(/did not keep the file/) });
    expect(s.api.created).toEqual([]);
  });

  it("discarding a message during its upload aborts the upload; nothing is sent", async () => {
    const s = await client();
    const conv = s.client.conversation(CONV);
    const held = store.holdNext();
    const local = conv.sendFile(new Blob([bytes(50_000)], { type: "text/plain" }));
    await store.next((r) => r.method === "PUT" && r.path === `/attachments/${s.api.created[0]?.id}`);
    conv.discard(local.clientMsgId);
    expect((await held).aborted).toBe(true);
    expect(s.client.outbox.get()).toEqual([]);
    expect(s.socket.requests.filter((r) => r.event === "message:send")).toEqual([]);
  });
});
