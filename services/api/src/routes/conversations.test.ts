import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { conversationRoom, userRoom } from "@parley/shared/events";
import { messageToDoc } from "@parley/shared/models";
import { MAX_GROUP_MEMBERS, type Conversation, type Message } from "@parley/protocol";

import { collect, eventually, nextEvent } from "../../../../test/helpers/events.js";
import { useApi, type TestUser } from "../testing/api-harness.js";

const api = useApi("conversations");

const direct = (from: TestUser, to: { id: string }) =>
  api.request("POST", "/api/conversations", { token: from.token, body: { type: "direct", userId: to.id } });

const cachedMembers = async (conversationId: string) =>
  (await api.redis.smembers(api.keys.conversationMembers(conversationId))).sort();
const cachedVersion = async (conversationId: string) =>
  Number(await api.redis.get(api.keys.conversationMembersVersion(conversationId)));

describe("POST /api/conversations (direct)", () => {
  it("creates the pair's conversation once: 201, then 200 with the same one from either side", async () => {
    const [a, b] = [await api.registerUser("a"), await api.registerUser("b")];
    const first = await direct(a, b);
    expect(first.status).toBe(201);
    const conversation: Conversation = first.body.conversation;
    expect(conversation).toMatchObject({ type: "direct", name: null, createdBy: a.id, lastSeq: 0, lastMessage: null });
    expect([...conversation.members].sort()).toEqual([a.id, b.id].sort());
    expect([...conversation.admins].sort()).toEqual([a.id, b.id].sort());

    const again = await direct(a, b);
    const reverse = await direct(b, a);
    expect(again.status).toBe(200);
    expect(reverse.status).toBe(200);
    expect(again.body.conversation.id).toBe(conversation.id);
    expect(reverse.body.conversation.id).toBe(conversation.id);
    expect(await cachedMembers(conversation.id)).toEqual([a.id, b.id].sort());
  });

  it("converges on one conversation under concurrent creation from both sides", async () => {
    const [a, b] = [await api.registerUser("a"), await api.registerUser("b")];
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? direct(a, b) : direct(b, a))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.conversation.id)).size).toBe(1);
    const count = await api.models.Conversation.countDocuments({ members: { $all: [a.id, b.id] }, type: "direct" });
    expect(count).toBe(1);
  });

  it("makes both users' live sockets join the room and announces it to them", async () => {
    const [a, b] = [await api.registerUser("a"), await api.registerUser("b")];
    const socketA = await api.probe.join([userRoom(a.id)]);
    const socketB = await api.probe.join([userRoom(b.id)]);
    const created = [nextEvent<{ conversation: Conversation }>(socketA, "conversation:created"), nextEvent<{ conversation: Conversation }>(socketB, "conversation:created")];
    const res = await direct(a, b);
    const room = conversationRoom(res.body.conversation.id);
    for (const event of await Promise.all(created)) expect(event.conversation).toEqual(res.body.conversation);
    await eventually(async () => (await api.probe.roomsOf(socketA)).includes(room), 5_000, "A joined");
    await eventually(async () => (await api.probe.roomsOf(socketB)).includes(room), 5_000, "B joined");
  });

  it("refuses a conversation with yourself (400), an unknown user (404) and a malformed id (400)", async () => {
    const a = await api.registerUser();
    const self = await direct(a, a);
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe("VALIDATION");

    const unknown = await direct(a, { id: new Types.ObjectId().toHexString() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");

    const malformed = await direct(a, { id: "zzz" });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.issues[0].path).toBe("userId");

    const badType = await api.request("POST", "/api/conversations", { token: a.token, body: { type: "channel" } });
    expect(badType.status).toBe(400);
  });
});

describe("POST /api/conversations (group)", () => {
  it("adds the creator as member and admin, deduplicates members and fills the member cache", async () => {
    const [owner, b, c] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("c")];
    const res = await api.request("POST", "/api/conversations", {
      token: owner.token,
      body: { type: "group", name: "  Team  ", memberIds: [b.id, c.id, b.id, owner.id] },
    });
    expect(res.status).toBe(201);
    const group: Conversation = res.body.conversation;
    expect(group).toMatchObject({ type: "group", name: "Team", createdBy: owner.id, admins: [owner.id] });
    expect(group.members).toEqual([owner.id, b.id, c.id]);
    expect(await cachedMembers(group.id)).toEqual([owner.id, b.id, c.id].sort());
    const stored = await api.models.Conversation.findById(group.id).lean();
    expect(stored?.key).toBe(`g:${group.id}`);
  });

  it("refuses unknown members with 404, naming them, and creates nothing", async () => {
    const [owner, b] = [await api.registerUser("o"), await api.registerUser("b")];
    const ghost = new Types.ObjectId().toHexString();
    const res = await api.request("POST", "/api/conversations", {
      token: owner.token,
      body: { type: "group", name: "ghosts", memberIds: [b.id, ghost] },
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
    expect(res.body.error.message).toContain(ghost);
    expect(await api.models.Conversation.countDocuments({ createdBy: owner.id })).toBe(0);
  });

  it("validates the name and the member list", async () => {
    const owner = await api.registerUser();
    for (const body of [
      { type: "group", name: " ", memberIds: [owner.id] },
      { type: "group", name: "x", memberIds: [] },
      { type: "group", name: "x", memberIds: ["nope"] },
    ]) {
      const res = await api.request("POST", "/api/conversations", { token: owner.token, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
    }
  });
});

describe("GET /api/conversations", () => {
  it("lists only the caller's conversations, most recent activity first, with their last message", async () => {
    const [me, b, c, stranger] = [
      await api.registerUser("me"),
      await api.registerUser("b"),
      await api.registerUser("c"),
      await api.registerUser("s"),
    ];
    const withB: Conversation = (await direct(me, b)).body.conversation;
    const group = await api.createGroup(me, [b, c], "g");
    const withC: Conversation = (await direct(c, me)).body.conversation;
    await direct(stranger, b);

    const lastMessage: Message = {
      id: new Types.ObjectId().toHexString(),
      conversationId: withB.id,
      seq: 7,
      senderId: b.id,
      clientMsgId: "m7",
      content: "latest news",
      type: "text",
      createdAt: new Date().toISOString(),
    };
    // What the worker does when it stores a message; written directly to stay independent of it.
    await api.mongo.collection("conversations").updateOne(
      { _id: new Types.ObjectId(withB.id) },
      { $set: { lastMessage: messageToDoc(lastMessage), lastSeq: 7, updatedAt: new Date(Date.now() + 60_000) } },
    );

    const res = await api.request("GET", "/api/conversations", { token: me.token });
    expect(res.status).toBe(200);
    const listed: Conversation[] = res.body.conversations;
    expect(listed.map((x) => x.id)).toEqual([withB.id, withC.id, group.id]);
    expect(listed[0]).toMatchObject({ lastSeq: 7, lastMessage });
    expect(listed[1]!.lastMessage).toBeNull();
  });

  it("is empty for a user without conversations", async () => {
    const loner = await api.registerUser();
    expect((await api.request("GET", "/api/conversations", { token: loner.token })).body).toEqual({ conversations: [] });
  });
});

describe("GET /api/conversations/:id", () => {
  it("shows a conversation to its members only", async () => {
    const [a, b, stranger] = [await api.registerUser(), await api.registerUser(), await api.registerUser()];
    const conversation: Conversation = (await direct(a, b)).body.conversation;
    const seen = await api.request("GET", `/api/conversations/${conversation.id}`, { token: b.token });
    expect(seen.status).toBe(200);
    // The listing shape: the conversation, plus the caller's unread count and the members' pointers.
    expect(seen.body.conversation).toEqual({
      ...conversation,
      unreadCount: 0,
      readPointers: { [a.id]: 0, [b.id]: 0 },
      deliveredPointers: { [a.id]: 0, [b.id]: 0 },
    });

    const forbidden = await api.request("GET", `/api/conversations/${conversation.id}`, { token: stranger.token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("FORBIDDEN");
  });
});

describe("POST /api/conversations/:id/members", () => {
  it("adds members: their sockets join the room and get conversation:created, the others conversation:updated", async () => {
    const [owner, b, c] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("c")];
    const group = await api.createGroup(owner, [b]);
    const versionBefore = await cachedVersion(group.id);
    const socketB = await api.probe.join([userRoom(b.id)]);
    const socketC = await api.probe.join([userRoom(c.id)]);
    const updatedForB = nextEvent<{ conversation: Conversation }>(socketB, "conversation:updated");
    const createdForC = nextEvent<{ conversation: Conversation }>(socketC, "conversation:created");

    const res = await api.request("POST", `/api/conversations/${group.id}/members`, {
      token: owner.token,
      body: { userIds: [c.id] },
    });
    expect(res.status).toBe(200);
    expect(res.body.conversation.members).toEqual([owner.id, b.id, c.id]);
    expect((await createdForC).conversation).toEqual(res.body.conversation);
    expect((await updatedForB).conversation).toEqual(res.body.conversation);
    await eventually(async () => (await api.probe.roomsOf(socketC)).includes(conversationRoom(group.id)), 5_000, "C joined");
    expect(await cachedMembers(group.id)).toEqual([owner.id, b.id, c.id].sort());
    expect(await cachedVersion(group.id)).toBe(versionBefore + 1);

    // A retry changes nothing and announces nothing new.
    const retry = await api.request("POST", `/api/conversations/${group.id}/members`, {
      token: owner.token,
      body: { userIds: [c.id, b.id] },
    });
    expect(retry.status).toBe(200);
    expect(retry.body.conversation.members).toEqual([owner.id, b.id, c.id]);
    expect(await cachedVersion(group.id)).toBe(versionBefore + 1);
  });

  it("is for admins of groups only, and for existing users", async () => {
    const [owner, b, c] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("c")];
    const group = await api.createGroup(owner, [b]);
    const add = (as: TestUser, id: string, userIds: string[]) =>
      api.request("POST", `/api/conversations/${id}/members`, { token: as.token, body: { userIds } });

    const notAdmin = await add(b, group.id, [c.id]);
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.error.code).toBe("FORBIDDEN");

    const pair: Conversation = (await direct(owner, b)).body.conversation;
    expect((await add(owner, pair.id, [c.id])).status).toBe(403);

    const ghost = new Types.ObjectId().toHexString();
    const unknown = await add(owner, group.id, [c.id, ghost]);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain(ghost);
    expect((await api.models.Conversation.findById(group.id).lean())?.members.map(String)).toEqual([owner.id, b.id]);

    expect((await add(owner, group.id, [])).status).toBe(400);
  });

  it(`keeps a group at ${MAX_GROUP_MEMBERS} members at most`, async () => {
    const [owner, b, c, d] = [
      await api.registerUser("o"),
      await api.registerUser("b"),
      await api.registerUser("c"),
      await api.registerUser("d"),
    ];
    const group = await api.createGroup(owner, [b]);
    // Fill to one below the limit directly: registering ~1000 users would only slow the test down.
    const filler = Array.from({ length: MAX_GROUP_MEMBERS - 3 }, () => new Types.ObjectId());
    await api.models.Conversation.updateOne({ _id: group.id }, { $push: { members: { $each: filler } } });
    const add = (userIds: string[]) =>
      api.request("POST", `/api/conversations/${group.id}/members`, { token: owner.token, body: { userIds } });

    const tooMany = await add([c.id, d.id]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe("VALIDATION");

    const last = await add([c.id]);
    expect(last.status).toBe(200);
    expect(last.body.conversation.members).toHaveLength(MAX_GROUP_MEMBERS);
    expect((await add([d.id])).status).toBe(400);
  });
});

describe("DELETE /api/conversations/:id/members/:userId", () => {
  it("lets an admin remove a member: their sockets leave the room and everyone gets conversation:updated", async () => {
    const [owner, b, c] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("c")];
    const group = await api.createGroup(owner, [b, c]);
    const room = conversationRoom(group.id);
    const socketC = await api.probe.join([userRoom(c.id), room]);
    const socketB = await api.probe.join([userRoom(b.id)]);
    const updatedForC = nextEvent<{ conversation: Conversation }>(socketC, "conversation:updated");
    const updatedForB = nextEvent<{ conversation: Conversation }>(socketB, "conversation:updated");

    const res = await api.request("DELETE", `/api/conversations/${group.id}/members/${c.id}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.conversation.members).toEqual([owner.id, b.id]);
    expect((await updatedForC).conversation.members).not.toContain(c.id);
    expect((await updatedForB).conversation).toEqual(res.body.conversation);
    await eventually(async () => !(await api.probe.roomsOf(socketC)).includes(room), 5_000, "C left");
    expect(await cachedMembers(group.id)).toEqual([owner.id, b.id].sort());

    const again = await api.request("GET", `/api/conversations/${group.id}`, { token: c.token });
    expect(again.status).toBe(403);
  });

  it("lets any member leave, and promotes the earliest remaining member when the last admin leaves", async () => {
    const [owner, b, c] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("c")];
    const group = await api.createGroup(owner, [b, c]);

    const cLeaves = await api.request("DELETE", `/api/conversations/${group.id}/members/${c.id}`, { token: c.token });
    expect(cLeaves.status).toBe(200);
    expect(cLeaves.body.conversation.members).toEqual([owner.id, b.id]);

    const ownerLeaves = await api.request("DELETE", `/api/conversations/${group.id}/members/${owner.id}`, { token: owner.token });
    expect(ownerLeaves.status).toBe(200);
    expect(ownerLeaves.body.conversation).toMatchObject({ members: [b.id], admins: [b.id] });
    expect(await cachedMembers(group.id)).toEqual([b.id]);
  });

  it("refuses non-admins removing others (403), direct conversations (403) and non-members (404)", async () => {
    const [owner, b, c, d] = [
      await api.registerUser("o"),
      await api.registerUser("b"),
      await api.registerUser("c"),
      await api.registerUser("d"),
    ];
    const group = await api.createGroup(owner, [b, c]);
    const remove = (as: TestUser, id: string, userId: string) =>
      api.request("DELETE", `/api/conversations/${id}/members/${userId}`, { token: as.token });

    expect((await remove(b, group.id, c.id)).status).toBe(403);
    const notMember = await remove(owner, group.id, d.id);
    expect(notMember.status).toBe(404);
    expect(notMember.body.error.code).toBe("NOT_FOUND");
    const pair: Conversation = (await direct(owner, b)).body.conversation;
    expect((await remove(owner, pair.id, b.id)).status).toBe(403);
    expect((await remove(owner, pair.id, owner.id)).status).toBe(403);
    expect((await remove(owner, group.id, "nope")).status).toBe(400);
  });

  it("tells nobody outside the conversation", async () => {
    const [owner, b, outsider] = [await api.registerUser("o"), await api.registerUser("b"), await api.registerUser("x")];
    const socketOut = await api.probe.join([userRoom(outsider.id)]);
    const seen = collect(socketOut, "conversation:updated");
    const socketB = await api.probe.join([userRoom(b.id)]);
    const group = await api.createGroup(owner, [b]);
    const updatedForB = nextEvent(socketB, "conversation:updated");
    await api.request("DELETE", `/api/conversations/${group.id}/members/${b.id}`, { token: owner.token });
    await updatedForB;
    // Same emitter connection, so anything for the outsider would have arrived before this second event.
    const marker = nextEvent(socketOut, "conversation:created");
    await api.createGroup(owner, [outsider]);
    await marker;
    expect(seen).toEqual([]);
  });
});
