import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { conversationRoom } from "@parley/shared/events";
import { messageToDoc } from "@parley/shared/models";
import type { Conversation, Message } from "@parley/protocol";

import { collect, nextEvent } from "../../../../test/helpers/events.js";
import { useApi, type TestUser } from "../testing/api-harness.js";

const api = useApi("messages");

async function pair(): Promise<[TestUser, TestUser, Conversation]> {
  const [a, b] = [await api.registerUser("a"), await api.registerUser("b")];
  const res = await api.request("POST", "/api/conversations", { token: a.token, body: { type: "direct", userId: b.id } });
  return [a, b, res.body.conversation];
}

/** Stores messages 1..count of a conversation directly, as the worker would. */
async function storeMessages(conversation: Conversation, senders: string[], count: number): Promise<Message[]> {
  const messages: Message[] = Array.from({ length: count }, (_, i) => ({
    id: new Types.ObjectId().toHexString(),
    conversationId: conversation.id,
    seq: i + 1,
    senderId: senders[i % senders.length]!,
    clientMsgId: `seed-${i + 1}`,
    content: `message ${i + 1}`,
    type: "text",
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
  }));
  await api.models.Message.insertMany(messages.map(messageToDoc));
  return messages;
}

const history = (user: TestUser, conversationId: string, query = "") =>
  api.request("GET", `/api/conversations/${conversationId}/messages${query}`, { token: user.token });

describe("GET /api/conversations/:id/messages", () => {
  it("pages backwards through 120 messages: ascending pages, no gap, no duplicate, nextBefore null at the end", async () => {
    const [a, b, conversation] = await pair();
    const stored = await storeMessages(conversation, [a.id, b.id], 120);

    const pages: Message[][] = [];
    let query = "?limit=50";
    for (;;) {
      const res = await history(b, conversation.id, query);
      expect(res.status).toBe(200);
      const page: Message[] = res.body.messages;
      pages.push(page);
      expect(page.map((m) => m.seq)).toEqual([...page.map((m) => m.seq)].sort((x, y) => x - y));
      if (res.body.nextBefore === null) break;
      expect(res.body.nextBefore).toBe(page[0]!.seq);
      query = `?limit=50&before=${res.body.nextBefore}`;
    }
    expect(pages.map((p) => p.length)).toEqual([50, 50, 20]);
    const all = pages.reverse().flat();
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    // Read from MongoDB: each says it is stored.
    expect(all).toEqual(stored.map((m) => ({ ...m, persisted: true })));
  });

  it("defaults to the newest 50, and says when nothing older exists", async () => {
    const [a, , conversation] = await pair();
    await storeMessages(conversation, [a.id], 60);
    const newest = await history(a, conversation.id);
    expect(newest.body.messages.map((m: Message) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(newest.body.nextBefore).toBe(11);

    const exact = await history(a, conversation.id, "?before=11&limit=10");
    expect(exact.body.messages.map((m: Message) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(exact.body.nextBefore).toBeNull();

    const empty = await history(a, conversation.id, "?before=1");
    expect(empty.body).toEqual({ messages: [], nextBefore: null });
  });

  it("returns an empty page for a conversation without messages", async () => {
    const [a, , conversation] = await pair();
    expect((await history(a, conversation.id)).body).toEqual({ messages: [], nextBefore: null });
  });

  it.each(["?limit=0", "?limit=101", "?limit=abc", "?before=0", "?before=-3", "?before=1.5"])(
    "refuses %s with 400 VALIDATION",
    async (query) => {
      const [a, , conversation] = await pair();
      const res = await history(a, conversation.id, query);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
    },
  );
});

describe("POST /api/conversations/:id/messages", () => {
  it("sends through the pipeline: 201, in the Redis stream, queued with jobId = id, delivered to the room", async () => {
    const [a, b, conversation] = await pair();
    const listener = await api.probe.join([conversationRoom(conversation.id)]);
    const delivered = nextEvent<Message>(listener, "message:new");

    const res = await api.request("POST", `/api/conversations/${conversation.id}/messages`, {
      token: a.token,
      body: { clientMsgId: "c-1", content: "  hello there  " },
    });
    expect(res.status).toBe(201);
    const message: Message = res.body.message;
    expect(message).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      conversationId: conversation.id,
      seq: 1,
      senderId: a.id,
      clientMsgId: "c-1",
      content: "hello there",
      type: "text",
      createdAt: expect.any(String),
    });
    expect(await delivered).toEqual(message);

    const entries = await api.redis.xrange(api.keys.conversationStream(conversation.id), "-", "+");
    expect(entries).toHaveLength(1);
    expect(entries[0]![0]).toBe("1-0");
    expect(JSON.parse(entries[0]![1][1]!)).toEqual(message);

    const job = await api.queue.getJob(message.id);
    expect(job?.name).toBe("message");
    expect(job?.data).toEqual(message);

    const reply = await api.request("POST", `/api/conversations/${conversation.id}/messages`, {
      token: b.token,
      body: { clientMsgId: "c-1", content: "same id, other sender", type: "text" },
    });
    expect(reply.status).toBe(201);
    expect(reply.body.message.seq).toBe(2);
  });

  it("returns the original message for a repeated clientMsgId (200) and delivers nothing new", async () => {
    const [a, , conversation] = await pair();
    const listener = await api.probe.join([conversationRoom(conversation.id)]);
    const seen = collect<Message>(listener, "message:new");
    const send = (clientMsgId: string, content: string) =>
      api.request("POST", `/api/conversations/${conversation.id}/messages`, { token: a.token, body: { clientMsgId, content } });

    const firstDelivery = nextEvent(listener, "message:new");
    const first = await send("dup", "once");
    await firstDelivery;
    const retry = await send("dup", "twice?");
    expect(retry.status).toBe(200);
    expect(retry.body.message).toEqual(first.body.message);

    // The next delivery travels the same Redis channel, so a duplicate would have arrived before it.
    const nextDelivery = nextEvent(listener, "message:new");
    const other = await send("other", "next");
    await nextDelivery;
    expect(seen.map((m) => m.id)).toEqual([first.body.message.id, other.body.message.id]);
    expect(other.body.message.seq).toBe(2);
    expect(await api.redis.xlen(api.keys.conversationStream(conversation.id))).toBe(2);
  });

  it("validates the body", async () => {
    const [a, , conversation] = await pair();
    for (const body of [{ clientMsgId: "x", content: "   " }, { content: "hi" }, { clientMsgId: "x", content: "hi", type: "sticker" }]) {
      const res = await api.request("POST", `/api/conversations/${conversation.id}/messages`, { token: a.token, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
    }
  });
});

describe("every conversation route", () => {
  const routes = (id: string, userId: string): [method: string, path: string, body?: unknown][] => [
    ["GET", `/api/conversations/${id}`],
    ["GET", `/api/conversations/${id}/messages`],
    ["POST", `/api/conversations/${id}/messages`, { clientMsgId: "probe", content: "hi" }],
    ["POST", `/api/conversations/${id}/members`, { userIds: [userId] }],
    ["DELETE", `/api/conversations/${id}/members/${userId}`],
  ];

  it("answers 403 FORBIDDEN to a non-member, and leaks nothing", async () => {
    const [owner, member, stranger] = [await api.registerUser("o"), await api.registerUser("m"), await api.registerUser("s")];
    const group = await api.createGroup(owner, [member]);
    const listener = await api.probe.join([conversationRoom(group.id)]);
    const seen = collect(listener, "message:new");
    for (const [method, path, body] of routes(group.id, member.id)) {
      const res = await api.request(method, path, { token: stranger.token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code, `${method} ${path}`).toBe("FORBIDDEN");
      expect(JSON.stringify(res.body), `${method} ${path}`).not.toContain(member.id);
    }
    const stored = await api.models.Conversation.findById(group.id).lean();
    expect(stored?.members.map(String)).toEqual([owner.id, member.id]);
    expect(await api.redis.exists(api.keys.conversationStream(group.id))).toBe(0);
    expect(seen).toEqual([]);
  });

  it("answers 404 NOT_FOUND for an unknown conversation and 400 VALIDATION for a malformed id", async () => {
    const user = await api.registerUser();
    const unknown = new Types.ObjectId().toHexString();
    for (const [method, path, body] of routes(unknown, user.id)) {
      const res = await api.request(method, path, { token: user.token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code, `${method} ${path}`).toBe("NOT_FOUND");
    }
    for (const [method, path, body] of routes("not-an-id", user.id)) {
      const res = await api.request(method, path, { token: user.token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error.code, `${method} ${path}`).toBe("VALIDATION");
    }
  });
});
