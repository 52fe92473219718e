/**
 * Attachments on a real cluster: nginx in front of two gateways, the API and the worker, on a private
 * Redis, a database of this file's own and a real S3-compatible store (versitygw). Bytes go straight
 * from the client to the store through presigned URLs; the parties of each test sit on different
 * gateways.
 */
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Attachment, AttachmentCreated, Message } from "@parley/protocol";
import type { Models } from "@parley/shared/models";

import { objectStoreClient } from "../../scripts/lib/object-store.js";
import type { RegisteredUser } from "../helpers/api-client.js";
import { closeAllClients, connectClient, type ClientSocket } from "../helpers/clients.js";
import { useCluster } from "../helpers/cluster.js";
import { uniqueSuffix } from "../helpers/env.js";
import { eventually, nextEvent } from "../helpers/events.js";

const fixture = useCluster("attachments", {
  env: { RATE_LIMITS_ENABLED: "false" },
  // The sweep of unclaimed uploads runs every second; the test backdates an upload instead of waiting a day.
  envFor: { worker: { ATTACHMENT_SWEEP_INTERVAL_SECONDS: "1" } },
});
let models: Models;
let s3: S3Client;

beforeAll(async () => {
  models = await fixture.models();
  s3 = objectStoreClient(fixture.cluster.objectStore!);
});
afterAll(() => s3?.destroy());
afterEach(() => closeAllClients());

/** A photo with a GPS position in its EXIF, as phones take them. */
async function photo(width = 800, height = 600): Promise<Uint8Array> {
  const jpeg = await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .withExif({ IFD0: { Make: "ParleyCam" }, IFD3: { GPSLatitudeRef: "N", GPSLatitude: "51/1 30/1 0/1", GPSLongitudeRef: "W", GPSLongitude: "0/1 7/1 0/1" } })
    .jpeg()
    .toBuffer();
  return new Uint8Array(jpeg);
}

async function start(user: RegisteredUser, conversationId: string, file: { name: string; size: number; contentType: string }) {
  return fixture.api.request<AttachmentCreated>("POST", `/api/conversations/${conversationId}/attachments`, { token: user.token, body: file });
}

/** Starts an attachment and uploads `bytes` with its presigned request, as a client does. */
async function upload(user: RegisteredUser, conversationId: string, bytes: Uint8Array, name: string, contentType: string): Promise<Attachment> {
  const res = await start(user, conversationId, { name, size: bytes.byteLength, contentType });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { attachment, upload } = res.body;
  const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: bytes, signal: AbortSignal.timeout(10_000) });
  expect(put.status, await put.clone().text()).toBe(200);
  return attachment;
}

/** `GET /api/attachments/:id` through nginx: the redirect's target, or the refusal. */
async function download(user: RegisteredUser, id: string, query = ""): Promise<{ status: number; bytes?: Uint8Array; type?: string | null; disposition?: string | null }> {
  const res = await fetch(`${fixture.cluster.url}/api/attachments/${id}${query}`, {
    headers: { authorization: `Bearer ${user.token}` },
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 302) return { status: res.status };
  const object = await fetch(res.headers.get("location")!, { signal: AbortSignal.timeout(10_000) });
  expect(object.status).toBe(200);
  return { status: 200, bytes: new Uint8Array(await object.arrayBuffer()), type: object.headers.get("content-type"), disposition: object.headers.get("content-disposition") };
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: fixture.cluster.objectStore!.bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

async function keysOf(id: string): Promise<string[]> {
  const doc = await models.Attachment.findById(id).lean();
  if (!doc) return [];
  return doc.thumbnailKey ? [doc.key, doc.thumbnailKey] : [doc.key];
}

function send(socket: ClientSocket, payload: { conversationId: string; clientMsgId: string; content?: string; attachmentIds?: string[] }) {
  return socket.timeout(10_000).emitWithAck("message:send", payload);
}

/** Alice and Bob in a direct conversation, on different gateways. */
async function pair() {
  const { alice, bob, conversation, a, b } = await fixture.connectedPair();
  expect(a.session.node).not.toBe(b.session.node);
  return { alice, bob, conversationId: conversation.id, a: a.socket, b: b.socket };
}

describe("attachments across gateways", () => {
  it("an image uploaded straight to the store reaches the other gateway, downloads byte for byte, and gets a thumbnail without its GPS position", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    const bytes = await photo();
    const attachment = await upload(alice, conversationId, bytes, "beach.jpg", "image/jpeg");
    expect(attachment).toEqual({ id: expect.any(String), name: "beach.jpg", size: bytes.byteLength, contentType: "image/jpeg", kind: "image" });

    const atBob = nextEvent<Message>(b, "message:new");
    const updatedAtBob = nextEvent<Message>(b, "message:updated", 20_000);
    const updatedAtAlice = nextEvent<Message>(a, "message:updated", 20_000);
    const ack = await send(a, { conversationId, clientMsgId: "img-1", content: "the view", attachmentIds: [attachment.id] });
    expect(ack.ok, JSON.stringify(ack)).toBe(true);
    if (!ack.ok) return;
    const sentAttachment = { id: attachment.id, name: "beach.jpg", size: bytes.byteLength, contentType: "image/jpeg", kind: "image" };
    expect(ack.message.attachments).toEqual([sentAttachment]);
    expect(await atBob).toEqual(ack.message);

    // Bob downloads exactly what Alice uploaded, as an image shown inline.
    const got = await download(bob, attachment.id);
    expect(got.status).toBe(200);
    expect(Buffer.from(got.bytes!).equals(Buffer.from(bytes))).toBe(true);
    expect(got.type).toBe("image/jpeg");
    expect(got.disposition).toMatch(/^inline; filename="beach.jpg"/);

    // The worker describes it: both gateways get the new state, with dimensions and a thumbnail.
    const updated = await updatedAtBob;
    expect(await updatedAtAlice).toEqual(updated);
    expect(updated).toMatchObject({ id: ack.message.id, rev: 1, content: "the view" });
    expect(updated.attachments).toEqual([
      { ...sentAttachment, width: 800, height: 600, thumbnail: { width: 320, height: 240, contentType: "image/webp" } },
    ]);
    const thumbnail = await download(bob, attachment.id, "?variant=thumbnail");
    expect(thumbnail.type).toBe("image/webp");
    const meta = await sharp(thumbnail.bytes!).metadata();
    expect(meta).toMatchObject({ format: "webp", width: 320, height: 240 });
    expect(meta.exif).toBeUndefined();
    expect((await sharp(bytes).metadata()).exif).toBeDefined();

    // History says the same, from Redis and, once stored, from the database.
    await eventually(async () => (await models.Message.findById(ack.message.id).lean())?.rev === 1, 10_000, "the described state stored");
    const history = await fixture.api.history(bob.token, conversationId);
    expect(history.body.messages.find((m) => m.id === ack.message.id)?.attachments).toEqual(updated.attachments);
    // The JSON form too, for elements that cannot send a token.
    const link = await fixture.api.request<{ url: string; expiresAt: string }>("GET", `/api/attachments/${attachment.id}?redirect=false`, { token: bob.token });
    expect(link.status).toBe(200);
    expect(Date.parse(link.body.expiresAt)).toBeGreaterThan(Date.now());
  });

  it("a file without a preview is a download; text that claims to be an image is refused and nothing is sent", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    const text = new TextEncoder().encode("minutes of the meeting\n".repeat(50));
    const notes = await upload(alice, conversationId, text, "notes.txt", "text/plain");
    const fake = await upload(alice, conversationId, text, "cat.png", "image/png");

    const noMessage = nextEvent(b, "message:new", 1_500).then(() => "delivered", () => "nothing");
    const refused = await send(a, { conversationId, clientMsgId: "fake-1", attachmentIds: [notes.id, fake.id] });
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION", issues: [{ path: "attachmentIds.1", message: expect.stringMatching(/not an image/) }] } });
    expect(await noMessage).toBe("nothing");
    // All or nothing: the good one was not claimed either, so it can still be sent.
    const ack = await send(a, { conversationId, clientMsgId: "notes-1", attachmentIds: [notes.id] });
    expect(ack).toMatchObject({ ok: true, message: { content: "", attachments: [{ id: notes.id, kind: "file", contentType: "text/plain" }] } });
    const got = await download(bob, notes.id);
    expect(got.disposition).toMatch(/^attachment; filename="notes.txt"/);
    expect(new TextDecoder().decode(got.bytes)).toBe(new TextDecoder().decode(text));
  });

  it("an attachment is the uploader's and its conversation's: not attachable twice, not elsewhere, invisible to others until sent", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    const carol = await fixture.api.register("carol");
    const other = await fixture.api.direct(alice.token, carol.id);
    const bytes = await photo(64, 64);
    const attachment = await upload(alice, conversationId, bytes, "x.jpg", "image/jpeg");

    // Before it is sent: the uploader sees it, the other member does not, a stranger never does.
    expect((await download(alice, attachment.id)).status).toBe(200);
    expect((await download(bob, attachment.id)).status).toBe(404);
    expect((await download(carol, attachment.id)).status).toBe(404);
    // Not in another conversation, not by another sender.
    expect(await send(a, { conversationId: other.id, clientMsgId: "elsewhere", attachmentIds: [attachment.id] })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", issues: [{ path: "attachmentIds.0", message: "belongs to another conversation" }] },
    });
    expect(await send(b, { conversationId, clientMsgId: "stolen", attachmentIds: [attachment.id] })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", issues: [{ path: "attachmentIds.0", message: "no such attachment" }] },
    });

    const first = await send(a, { conversationId, clientMsgId: "once", attachmentIds: [attachment.id] });
    expect(first.ok).toBe(true);
    // A retry of the same send is the same message; another send cannot take it.
    const retry = await send(a, { conversationId, clientMsgId: "once", attachmentIds: [attachment.id] });
    expect(retry).toEqual(first);
    expect(await send(a, { conversationId, clientMsgId: "twice", attachmentIds: [attachment.id] })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION", issues: [{ path: "attachmentIds.0", message: "is attached to another message" }] },
    });
    expect((await download(bob, attachment.id)).status).toBe(200);
    expect((await download(carol, attachment.id)).status).toBe(404);
    expect((await fixture.api.request("POST", `/api/conversations/${conversationId}/attachments`, { token: carol.token, body: { name: "a.txt", size: 3, contentType: "text/plain" } })).status).toBe(403);
  });

  it("refuses an oversized or disallowed upload, and an upload that does not match what was signed", async () => {
    const { alice, conversationId } = await pair();
    const big = await start(alice, conversationId, { name: "big.zip", size: 25 * 1024 * 1024 + 1, contentType: "application/zip" });
    expect(big).toMatchObject({ status: 400, body: { error: { code: "VALIDATION", issues: [{ path: "size" }] } } });
    const html = await start(alice, conversationId, { name: "page.html", size: 10, contentType: "text/html" });
    expect(html).toMatchObject({ status: 400, body: { error: { code: "VALIDATION", issues: [{ path: "contentType" }] } } });

    const started = await start(alice, conversationId, { name: "a.txt", size: 10, contentType: "text/plain" });
    expect(started.status).toBe(201);
    const { upload } = started.body;
    const longer = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: "0123456789+", signal: AbortSignal.timeout(10_000) });
    expect(longer.status).toBe(403);
    const retyped = await fetch(upload.url, { method: "PUT", headers: { "content-type": "image/png" }, body: "0123456789", signal: AbortSignal.timeout(10_000) });
    expect(retyped.status).toBe(403);
    // Never uploaded: the send says so.
    const ack = await send((await connectClient(fixture.cluster.url, alice.token)).socket, { conversationId, clientMsgId: `nu-${uniqueSuffix()}`, attachmentIds: [started.body.attachment.id] });
    expect(ack).toMatchObject({ ok: false, error: { code: "VALIDATION", issues: [{ path: "attachmentIds.0", message: "is not uploaded yet" }] } });
  });

  it("deleting the message deletes its objects, thumbnail included; an upload no message claimed is swept away", async () => {
    const { alice, bob, conversationId, a, b } = await pair();
    const attachment = await upload(alice, conversationId, await photo(400, 400), "gone.jpg", "image/jpeg");
    const described = nextEvent<Message>(b, "message:updated", 20_000);
    const ack = await send(a, { conversationId, clientMsgId: "del-1", attachmentIds: [attachment.id] });
    if (!ack.ok) throw new Error(JSON.stringify(ack.error));
    await described;
    const keys = await keysOf(attachment.id);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(await exists(key)).toBe(true);

    const deleted = nextEvent(b, "message:deleted");
    const removed = await a.timeout(5_000).emitWithAck("message:delete", { conversationId, messageId: ack.message.id });
    expect(removed).toMatchObject({ ok: true, message: { deletedAt: expect.any(String) } });
    if (removed.ok) expect(removed.message.attachments).toBeUndefined();
    await deleted;
    await eventually(async () => (await models.Attachment.findById(attachment.id).lean()) === null, 10_000, "the attachment deleted");
    for (const key of keys) expect(await exists(key)).toBe(false);
    expect((await download(bob, attachment.id)).status).toBe(404);

    // An upload left unclaimed for longer than ATTACHMENT_ORPHAN_TTL_SECONDS (backdated here) goes too.
    const orphan = await upload(alice, conversationId, new TextEncoder().encode("draft"), "draft.txt", "text/plain");
    const [orphanKey] = await keysOf(orphan.id);
    const fresh = await upload(alice, conversationId, new TextEncoder().encode("fresh"), "fresh.txt", "text/plain");
    await models.Attachment.updateOne({ _id: orphan.id }, { $set: { createdAt: new Date(Date.now() - 2 * 86_400_000) } });
    // Objects first, then the document: the document going is the end of the sweep.
    await eventually(async () => (await models.Attachment.findById(orphan.id).lean()) === null, 15_000, "the orphan swept");
    expect(await exists(orphanKey!)).toBe(false);
    expect(await models.Attachment.findById(fresh.id).lean()).not.toBeNull();
    // Its bytes are given back: only the fresh upload counts against Alice's quota now.
    const user = await models.User.findById(alice.id).lean();
    expect(user?.attachmentBytes).toBe(5);
  });

  it("a browser on the public origin may upload to the store (CORS); another origin may not", async () => {
    const { alice, conversationId } = await pair();
    const started = await start(alice, conversationId, { name: "a.txt", size: 3, contentType: "text/plain" });
    const preflight = (origin: string) =>
      fetch(started.body.upload.url, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type" },
        signal: AbortSignal.timeout(10_000),
      });
    const allowed = await preflight(`http://localhost:${fixture.cluster.port}`);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(`http://localhost:${fixture.cluster.port}`);
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});
