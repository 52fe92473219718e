/**
 * The limits and the lifetime of attachments on the API, with a real object store (versitygw), Redis,
 * database and worker: the per-user byte quota and upload rate, what a send refuses, the deletion of an
 * account's files, and a server without a store.
 */
import { describe, expect, it } from "vitest";

import type { AttachmentCreated } from "@parley/protocol";

import { eventually } from "../../../../test/helpers/events.js";
import { useApi, type TestUser } from "../testing/api-harness.js";

const api = useApi("attachments", {
  objectStore: true,
  worker: true,
  env: { ATTACHMENT_QUOTA_BYTES: "100", ATTACHMENT_UPLOADS_PER_MINUTE: "5", ATTACHMENT_TYPES: "text/plain,image/png" },
});

async function start(user: TestUser, conversationId: string, size: number, contentType = "text/plain") {
  return api.request("POST", `/api/conversations/${conversationId}/attachments`, { token: user.token, body: { name: "f.txt", size, contentType } });
}

async function uploaded(user: TestUser, conversationId: string, text: string): Promise<AttachmentCreated["attachment"]> {
  const res = await start(user, conversationId, Buffer.byteLength(text));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { upload, attachment } = res.body as AttachmentCreated;
  expect((await fetch(upload.url, { method: upload.method, headers: upload.headers, body: text })).status).toBe(200);
  return attachment;
}

describe("attachment limits", () => {
  it("takes each upload's bytes from the user's quota at its start, and refuses beyond it with QUOTA_EXCEEDED", async () => {
    const alice = await api.registerUser("quota");
    const bob = await api.registerUser("quota-peer");
    const group = await api.createGroup(alice, [bob]);
    expect((await start(alice, group.id, 60)).status).toBe(201);
    const over = await start(alice, group.id, 41);
    expect(over).toMatchObject({ status: 403, body: { error: { code: "QUOTA_EXCEEDED" } } });
    expect((await start(alice, group.id, 40)).status).toBe(201);
    // Someone else's quota is their own.
    expect((await start(bob, group.id, 100)).status).toBe(201);
    expect((await api.models.User.findById(alice.id).lean())?.attachmentBytes).toBe(100);
  });

  it("limits the uploads a user starts per minute, cluster-wide (RATE_LIMITED with retryAfterMs)", async () => {
    const alice = await api.registerUser("rate");
    const bob = await api.registerUser("rate-peer");
    const group = await api.createGroup(alice, [bob]);
    for (let i = 0; i < 5; i++) expect((await start(alice, group.id, 1)).status).toBe(201);
    const refused = await start(alice, group.id, 1);
    expect(refused).toMatchObject({ status: 429, body: { error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } } });
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("refuses a type outside ATTACHMENT_TYPES, and a send of a file of an allowed type whose bytes are another", async () => {
    const alice = await api.registerUser("types");
    const bob = await api.registerUser("types-peer");
    const group = await api.createGroup(alice, [bob]);
    expect(await start(alice, group.id, 10, "application/pdf")).toMatchObject({ status: 400, body: { error: { issues: [{ path: "contentType" }] } } });
    // Text with a NUL byte is not text.
    const binary = await uploaded(alice, group.id, "ab\u0000cd");
    const sent = await api.request("POST", `/api/conversations/${group.id}/messages`, { token: alice.token, body: { clientMsgId: "bin", attachmentIds: [binary.id] } });
    expect(sent).toMatchObject({ status: 400, body: { error: { code: "VALIDATION", issues: [{ path: "attachmentIds.0", message: "its content is not text/plain" }] } } });
  });

  it("deletes every file of a deleted account, sent or not, and gives no one access to them", async () => {
    const alice = await api.registerUser("leaving");
    const bob = await api.registerUser("staying");
    const group = await api.createGroup(alice, [bob]);
    const sentOne = await uploaded(alice, group.id, "sent");
    const draft = await uploaded(alice, group.id, "draft");
    const bobs = await uploaded(bob, group.id, "bob's");
    const post = await api.request("POST", `/api/conversations/${group.id}/messages`, { token: alice.token, body: { clientMsgId: "a1", attachmentIds: [sentOne.id] } });
    expect(post.status).toBe(201);
    const link = await api.request("GET", `/api/attachments/${sentOne.id}?redirect=false`, { token: bob.token });
    expect(link.status).toBe(200);

    expect((await api.request("DELETE", "/api/users/me", { token: alice.token, body: { password: "correct horse battery" } })).status).toBe(204);
    await eventually(async () => (await api.models.Attachment.countDocuments({ uploaderId: alice.id })) === 0, 15_000, "the account's attachments deleted");
    expect((await fetch(link.body.url)).status).toBe(404);
    expect((await api.request("GET", `/api/attachments/${sentOne.id}`, { token: bob.token })).status).toBe(404);
    expect((await api.request("GET", `/api/attachments/${draft.id}`, { token: bob.token })).status).toBe(404);
    // Bob's own file is his.
    expect((await api.request("GET", `/api/attachments/${bobs.id}?redirect=false`, { token: bob.token })).status).toBe(200);
  });

  it("without a store (no S3_BUCKET), starting an attachment and sending one are FORBIDDEN, and text goes on", async () => {
    const { baseUrl } = await api.startVariant({ storage: undefined });
    const alice = await api.registerUser("nostore");
    const bob = await api.registerUser("nostore-peer");
    const group = await api.createGroup(alice, [bob]);
    const call = (path: string, body: unknown) =>
      fetch(`${baseUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const started = await call(`/api/conversations/${group.id}/attachments`, { name: "a.txt", size: 3, contentType: "text/plain" });
    expect(started.status).toBe(403);
    expect(await started.json()).toMatchObject({ error: { code: "FORBIDDEN", message: "Attachments are not enabled on this server" } });
    const withFile = await call(`/api/conversations/${group.id}/messages`, { clientMsgId: "x1", attachmentIds: ["0123456789abcdef01234567"] });
    expect(withFile.status).toBe(403);
    expect((await call(`/api/conversations/${group.id}/messages`, { clientMsgId: "x2", content: "still here" })).status).toBe(201);
  });
});
