/**
 * Blocking through the API, with a gateway in this process on the same Redis and database for what a
 * block cuts on sockets: the block routes, direct conversations, groups, and sends, edits and reactions
 * in a blocked direct conversation (socket and REST), and the blocked state under concurrent changes.
 */
import { Types } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { peersOfDoc } from "@parley/shared/blocks/block-cache";
import type { Conversation, Message } from "@parley/protocol";

import { closeAllClients, connectClient, type ClientSocket } from "../../../../test/helpers/clients.js";
import { nextEvent, nextEventWhere } from "../../../../test/helpers/events.js";
import { startGatewayNode, type GatewayNode } from "../../../../test/helpers/in-process-gateway.js";
import { Gate } from "../../../../test/helpers/stores.js";
import { useApi, type TestUser } from "../testing/api-harness.js";
import { MAX_BLOCKS } from "../users/blocks.js";

const api = useApi("blocks");
let gateway: GatewayNode;

beforeAll(async () => {
  gateway = await startGatewayNode("blocks-gateway", api.config.REDIS_URL, api.models, { REDIS_PREFIX: api.config.REDIS_PREFIX });
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await gateway?.close();
});

const block = (from: TestUser, to: { id: string }) => api.request("POST", "/api/users/me/blocks", { token: from.token, body: { userId: to.id } });
const unblock = (from: TestUser, to: { id: string }) => api.request("DELETE", `/api/users/me/blocks/${to.id}`, { token: from.token });
const listBlocks = (user: TestUser) => api.request("GET", "/api/users/me/blocks", { token: user.token });
const direct = (from: TestUser, to: TestUser) =>
  api.request("POST", "/api/conversations", { token: from.token, body: { type: "direct", userId: to.id } });
const post = (from: TestUser, conversationId: string, content: string) =>
  api.request("POST", `/api/conversations/${conversationId}/messages`, {
    token: from.token,
    body: { clientMsgId: `rest-${new Types.ObjectId().toHexString()}`, content },
  });

type Ack = { ok: true; message?: Message; added?: boolean } | { ok: false; error: { code: string; message: string } };

function emit(socket: ClientSocket, event: "message:send" | "message:edit" | "message:delete" | "message:react" | "sync", payload: unknown): Promise<Ack> {
  return (socket.timeout(5_000).emitWithAck as (event: string, payload: unknown) => Promise<Ack>)(event, payload);
}

const send = (socket: ClientSocket, conversationId: string, content: string, clientMsgId = new Types.ObjectId().toHexString()) =>
  emit(socket, "message:send", { conversationId, clientMsgId, content });

const BLOCKED = { ok: false, error: { code: "FORBIDDEN", message: expect.stringMatching(/one of you has blocked the other/) } };

/** New users, one per label, registered at once. */
function register<const L extends readonly string[]>(...labels: L): Promise<{ [K in keyof L]: TestUser }> {
  return Promise.all(labels.map((label) => api.registerUser(label))) as Promise<{ [K in keyof L]: TestUser }>;
}

describe("POST /api/users/me/blocks", () => {
  it("blocks once: 200 with the block, 200 with the same block again, listed by GET, mirrored on the other user", async () => {
    const [alice, bob] = await register("alice", "bob");
    const first = await block(alice, bob);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ block: { userId: bob.id, createdAt: expect.any(String) } });

    const again = await block(alice, bob);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await listBlocks(alice)).body).toEqual({ blocks: [first.body.block] });
    // Whom bob blocks: nobody; that alice blocks him is not his to list.
    expect((await listBlocks(bob)).body).toEqual({ blocks: [] });

    const [aliceDoc, bobDoc] = await Promise.all([alice, bob].map((u) => api.models.User.findById(u.id).lean().exec()));
    expect(aliceDoc!.blocks.map((b) => b.userId.toHexString())).toEqual([bob.id]);
    expect(bobDoc!.blockedBy.map((id) => id.toHexString())).toEqual([alice.id]);
    // Both peer caches hold the block, each under its user's version.
    for (const [user, peer, doc] of [[alice, bob, aliceDoc!], [bob, alice, bobDoc!]] as const) {
      expect(await api.redis.smembers(api.keys.userBlocks(user.id))).toEqual([peer.id]);
      expect(Number(await api.redis.get(api.keys.userBlocksVersion(user.id)))).toBe(doc.blocksVersion);
    }
  });

  it("lists blocks oldest first", async () => {
    const [alice, bob, carol, dave] = await register("alice", "bob", "carol", "dave");
    const created = [];
    for (const target of [carol, bob, dave]) created.push((await block(alice, target)).body.block);
    expect((await listBlocks(alice)).body.blocks).toEqual(created);
    expect(created.map((b: { userId: string }) => b.userId)).toEqual([carol.id, bob.id, dave.id]);
  });

  it("refuses yourself and malformed bodies (400), an unknown or deleted user (404), and strangers without a token (401)", async () => {
    const [alice, gone] = await register("alice", "gone");
    const self = await block(alice, alice);
    expect(self.status).toBe(400);
    expect(self.body.error).toMatchObject({ code: "VALIDATION", issues: [{ path: "userId" }] });
    for (const body of [{}, { userId: "nope" }, { userId: 12 }]) {
      const res = await api.request("POST", "/api/users/me/blocks", { token: alice.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
    }
    const unknown = await block(alice, { id: new Types.ObjectId().toHexString() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");
    await api.models.User.updateOne({ _id: gone.id }, { $set: { deletedAt: new Date() } });
    const deleted = await block(alice, gone);
    expect(deleted.status).toBe(404);
    expect(deleted.body.error.code).toBe("NOT_FOUND");
    expect((await api.request("POST", "/api/users/me/blocks", { body: { userId: gone.id } })).status).toBe(401);
    expect((await listBlocks(alice)).body).toEqual({ blocks: [] });
  });

  it(`refuses a block beyond ${MAX_BLOCKS} with VALIDATION, and still answers a block that exists`, async () => {
    const [alice, bob, carol] = await register("alice", "bob", "carol");
    await block(alice, bob);
    const filler = Array.from({ length: MAX_BLOCKS - 1 }, () => ({ userId: new Types.ObjectId(), createdAt: new Date() }));
    await api.models.User.updateOne({ _id: alice.id }, { $push: { blocks: { $each: filler } } });
    const over = await block(alice, carol);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: "VALIDATION", issues: [{ path: "userId" }] });
    expect((await api.models.User.findById(carol.id).lean().exec())!.blockedBy).toEqual([]);
    expect((await block(alice, bob)).status).toBe(200);
    // Room again after an unblock.
    expect((await unblock(alice, bob)).status).toBe(204);
    expect((await block(alice, carol)).status).toBe(200);
  });
});

describe("DELETE /api/users/me/blocks/:userId", () => {
  it("unblocks: 204, then 204 again with nothing changed; a user never blocked or unknown is 204 too", async () => {
    const [alice, bob, carol] = await register("alice", "bob", "carol");
    await block(alice, bob);
    await block(alice, carol);
    const first = await unblock(alice, bob);
    expect(first.status).toBe(204);
    expect(first.body).toBeNull();
    expect((await listBlocks(alice)).body.blocks.map((b: { userId: string }) => b.userId)).toEqual([carol.id]);
    expect((await unblock(alice, bob)).status).toBe(204);
    expect((await unblock(bob, alice)).status).toBe(204);
    expect((await unblock(alice, { id: new Types.ObjectId().toHexString() })).status).toBe(204);
    expect((await listBlocks(alice)).body.blocks.map((b: { userId: string }) => b.userId)).toEqual([carol.id]);
    expect((await api.models.User.findById(bob.id).lean().exec())!.blockedBy).toEqual([]);
    expect(await api.redis.smembers(api.keys.userBlocks(bob.id))).toEqual([]);
    expect(await api.redis.smembers(api.keys.userBlocks(alice.id))).toEqual([carol.id]);
  });

  it("refuses yourself and a malformed id with VALIDATION", async () => {
    const [alice] = await register("alice");
    expect((await unblock(alice, alice)).body.error.code).toBe("VALIDATION");
    const malformed = await api.request("DELETE", "/api/users/me/blocks/nope", { token: alice.token });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.issues[0].path).toBe("userId");
  });

  it("leaves GET /api/users/me and GET /api/users/:id as they were", async () => {
    const [alice, bob] = await register("alice", "bob");
    expect((await api.request("GET", "/api/users/me", { token: alice.token })).body.user).toEqual(alice.user);
    expect((await api.request("GET", `/api/users/${bob.id}`, { token: alice.token })).body.user).toEqual(bob.user);
  });
});

describe("conversations while blocked", () => {
  it("refuses to open the direct conversation either way, new or existing, and opens it again after the unblock", async () => {
    const [alice, bob] = await register("alice", "bob");
    await block(alice, bob);
    for (const [from, to] of [[alice, bob], [bob, alice]] as const) {
      const res = await direct(from, to);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
    }
    expect(await api.models.Conversation.countDocuments({ members: { $all: [alice.id, bob.id] } })).toBe(0);

    await unblock(alice, bob);
    const created = await direct(bob, alice);
    expect(created.status).toBe(201);
    const conversation: Conversation = created.body.conversation;

    await block(bob, alice);
    for (const [from, to] of [[alice, bob], [bob, alice]] as const) expect((await direct(from, to)).status).toBe(403);
    expect(await api.redis.get(api.keys.conversationBlocked(conversation.id))).toBe("1");
    await unblock(bob, alice);
    expect(await api.redis.get(api.keys.conversationBlocked(conversation.id))).toBeNull();
    const reopened = await direct(alice, bob);
    expect(reopened.status).toBe(200);
    expect(reopened.body.conversation.id).toBe(conversation.id);
  });

  it("ends blocked when the direct conversation is created while a block of the pair is being made", async () => {
    const [alice, bob] = await register("alice", "bob");
    // An API whose conversation inserts wait at a gate: bob's request passes its block check, then waits.
    const gate = new Gate();
    const open = gate.close();
    let reached!: () => void;
    const inserting = new Promise<void>((resolve) => (reached = resolve));
    const Conversation = new Proxy(api.models.Conversation, {
      get(target, prop, receiver) {
        if (prop !== "create") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<typeof target.create>) => {
          reached();
          await gate.wait();
          return target.create(...args);
        };
      },
    });
    const slow = await api.startVariant({ models: { ...api.models, Conversation } });
    const opening = api.request("POST", `${slow.baseUrl}/api/conversations`, { token: bob.token, body: { type: "direct", userId: alice.id } });
    await inserting;
    // The block finds no conversation of the pair to mark: it does not exist yet.
    expect((await block(alice, bob)).status).toBe(200);
    open();
    const created = await opening;
    expect(created.status).toBe(201);
    const { id } = created.body.conversation as Conversation;
    expect((await api.models.Conversation.findById(id).lean().exec())!.blocked).toBe(true);
    expect(await api.redis.get(api.keys.conversationBlocked(id))).toBe("1");
    expect((await post(bob, id, "hello?")).status).toBe(403);
  });

  it("refuses a group with a block peer, or adding one, either way, without saying who", async () => {
    const [alice, bob, carol] = await register("alice", "bob", "carol");
    await block(bob, alice);
    for (const [owner, other] of [[alice, bob], [bob, alice]] as const) {
      const res = await api.request("POST", "/api/conversations", {
        token: owner.token,
        body: { type: "group", name: "g", memberIds: [carol.id, other.id] },
      });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
      expect(res.body.error.message).not.toMatch(new RegExp(`${alice.id}|${bob.id}|block`, "i"));
    }
    const group = await api.createGroup(alice, [carol]);
    const add = await api.request("POST", `/api/conversations/${group.id}/members`, { token: alice.token, body: { userIds: [bob.id] } });
    expect(add.status).toBe(403);
    expect(add.body.error.code).toBe("FORBIDDEN");
    expect((await api.models.Conversation.findById(group.id).lean().exec())!.members.map(String)).toEqual([alice.id, carol.id]);
    // Carol may still add bob: the block is between alice and bob only.
    const byCarol = await api.createGroup(carol, [alice, bob]);
    expect([...byCarol.members].sort()).toEqual([alice.id, bob.id, carol.id].sort());
  });
});

describe("messages while blocked", () => {
  it("refuses sends, edits and reactions in the direct conversation either way, on sockets and REST; deletes, history and sync go on; groups deliver", async () => {
    const [alice, bob, carol] = await register("alice", "bob", "carol");
    const conversation: Conversation = (await direct(alice, bob)).body.conversation;
    const group = await api.createGroup(alice, [bob, carol]);
    const a = await connectClient(gateway.url, alice.token);
    const b = await connectClient(gateway.url, bob.token);
    const clientMsgId = "before-the-block";
    const fromAlice = await send(a.socket, conversation.id, "hi bob", clientMsgId);
    const fromBob = await send(b.socket, conversation.id, "hi alice");
    if (!fromAlice.ok || !fromBob.ok) throw new Error("sends before the block failed");
    const [aliceMessage, bobMessage] = [fromAlice.message!, fromBob.message!];

    expect((await block(bob, alice)).status).toBe(200);

    for (const [socket, user] of [[a.socket, alice], [b.socket, bob]] as const) {
      expect(await send(socket, conversation.id, "still there?")).toMatchObject(BLOCKED);
      const rest = await post(user, conversation.id, "still there?");
      expect(rest.status).toBe(403);
      expect(rest.body.error).toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/blocked/) });
    }
    const ref = (message: Message) => ({ conversationId: conversation.id, messageId: message.id });
    expect(await emit(a.socket, "message:edit", { ...ref(aliceMessage), content: "edited" })).toMatchObject(BLOCKED);
    expect(await emit(a.socket, "message:react", { ...ref(bobMessage), emoji: "👍" })).toMatchObject(BLOCKED);
    expect(await emit(b.socket, "message:react", { ...ref(aliceMessage), emoji: "👍" })).toMatchObject(BLOCKED);
    // Nothing new reached the stream: the seq did not move.
    expect(Number(await api.redis.get(api.keys.conversationSeq(conversation.id)))).toBe(2);

    // A retry of a message sent before the block is answered with the original, and sends nothing new.
    expect(await send(a.socket, conversation.id, "hi bob", clientMsgId)).toEqual({ ok: true, message: aliceMessage });
    // Deleting one's own message, reading history and syncing stay allowed.
    const deleted = nextEvent<{ id: string }>(b.socket, "message:deleted");
    expect(await emit(a.socket, "message:delete", ref(aliceMessage))).toMatchObject({ ok: true, message: { id: aliceMessage.id, deletedAt: expect.any(String) } });
    expect(await deleted).toEqual({ id: aliceMessage.id, conversationId: conversation.id });
    const history = await api.request("GET", `/api/conversations/${conversation.id}/messages`, { token: alice.token });
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: Message) => m.id)).toEqual([aliceMessage.id, bobMessage.id]);
    expect(await emit(b.socket, "sync", { conversationId: conversation.id, afterSeq: 0 })).toMatchObject({ ok: true });

    // Their shared group delivers messages, reactions and edits between them.
    const inGroup = nextEventWhere<Message>(b.socket, "message:new", (m) => m.conversationId === group.id);
    const groupSend = await send(a.socket, group.id, "hello all");
    expect(groupSend.ok).toBe(true);
    const groupMessage = await inGroup;
    const reaction = nextEvent(a.socket, "message:reaction");
    expect(await emit(b.socket, "message:react", { conversationId: group.id, messageId: groupMessage.id, emoji: "👍" })).toMatchObject({ ok: true, added: true });
    expect(await reaction).toMatchObject({ messageId: groupMessage.id, userId: bob.id });
    const updated = nextEvent(b.socket, "message:updated");
    expect(await emit(a.socket, "message:edit", { conversationId: group.id, messageId: groupMessage.id, content: "hello, all" })).toMatchObject({ ok: true });
    expect(await updated).toMatchObject({ id: groupMessage.id, content: "hello, all" });

    // After the unblock, the direct conversation takes messages again, at once.
    expect((await unblock(bob, alice)).status).toBe(204);
    const arrived = nextEventWhere<Message>(b.socket, "message:new", (m) => m.conversationId === conversation.id);
    expect(await send(a.socket, conversation.id, "friends again")).toMatchObject({ ok: true, message: { seq: 3 } });
    expect(await arrived).toMatchObject({ content: "friends again" });
    expect((await post(bob, conversation.id, "yes")).status).toBe(201);
  });

  it("refuses sends in a blocked conversation whose state Redis lost, loading the block from MongoDB", async () => {
    const [alice, bob] = await register("alice", "bob");
    const conversation: Conversation = (await direct(alice, bob)).body.conversation;
    await block(alice, bob);
    await api.redis.del(api.keys.conversationMembers(conversation.id), api.keys.conversationMembersVersion(conversation.id), api.keys.conversationBlocked(conversation.id));
    const rest = await post(bob, conversation.id, "anyone?");
    expect(rest.status).toBe(403);
    expect(rest.body.error.message).toMatch(/blocked/);
    expect(await api.redis.get(api.keys.conversationBlocked(conversation.id))).toBe("1");
  });
});

/**
 * An API on the same stores whose first call of `model.method` for which `when(update)` holds waits at a
 * gate until `open()`; `reached` resolves when that call starts waiting.
 */
async function apiHolding(model: "User" | "Conversation", method: "updateOne" | "findOneAndUpdate", when: (update: Record<string, unknown>) => boolean) {
  const gate = new Gate();
  const open = gate.close();
  let reached!: () => void;
  const waiting = new Promise<void>((resolve) => (reached = resolve));
  let held = false;
  type Query = { lean(): Query; exec(): Promise<unknown> };
  const original = api.models[model] as unknown as Record<typeof method, (...args: unknown[]) => Query>;
  const proxy = new Proxy(original, {
    get(target, prop, receiver) {
      if (prop !== method) return Reflect.get(target, prop, receiver);
      return (...args: unknown[]) => {
        const hold = !held && when(args[1] as Record<string, unknown>);
        held ||= hold;
        let lean = false;
        const query: Query = {
          lean: () => ((lean = true), query),
          exec: async () => {
            if (hold) {
              reached();
              await gate.wait();
            }
            const real = target[method](...args);
            return (lean ? real.lean() : real).exec();
          },
        };
        return query;
      };
    },
  });
  const { baseUrl } = await api.startVariant({ models: { ...api.models, [model]: proxy } });
  return { baseUrl, reached: waiting, open };
}

const blockVia = (baseUrl: string, from: TestUser, to: TestUser) =>
  api.request("POST", `${baseUrl}/api/users/me/blocks`, { token: from.token, body: { userId: to.id } });

describe("concurrent blocks and unblocks", () => {
  it("never let a block whose recomputation of the conversation's blocked flag was overtaken write its stale result", async () => {
    const [alice, bob] = await register("alice", "bob");
    const { id } = (await direct(alice, bob)).body.conversation as Conversation;
    // Alice's block reads both users (blocked), then its write of the flag waits…
    const slow = await apiHolding("Conversation", "findOneAndUpdate", (update) => "$set" in update && "blocked" in (update.$set as object));
    const blocking = blockVia(slow.baseUrl, alice, bob);
    await slow.reached;
    // …while her unblock from another device runs to the end.
    expect((await unblock(alice, bob)).status).toBe(204);
    slow.open();
    expect((await blocking).status).toBe(200);
    const stored = (await api.models.Conversation.findById(id).lean().exec())!;
    expect(stored.blocked).toBe(false);
    expect(await api.redis.get(api.keys.conversationBlocked(id))).toBeNull();
    expect(Number(await api.redis.get(api.keys.conversationMembersVersion(id)))).toBe(stored.membersVersion);
    expect((await post(bob, id, "still friends")).status).toBe(201);
  });

  it("never let a block whose mirror on the other user was overtaken write its stale result", async () => {
    const [alice, bob] = await register("alice", "bob");
    // Alice's block writes her blocks, reads them for bob's mirror, then its write of the mirror waits…
    const slow = await apiHolding("User", "updateOne", (update) => "$addToSet" in update);
    const blocking = blockVia(slow.baseUrl, alice, bob);
    await slow.reached;
    // …while her unblock from another device runs to the end.
    expect((await unblock(alice, bob)).status).toBe(204);
    slow.open();
    expect((await blocking).status).toBe(200);
    const bobDoc = (await api.models.User.findById(bob.id).lean().exec())!;
    expect(bobDoc.blockedBy).toEqual([]);
    expect(await api.redis.smembers(api.keys.userBlocks(bob.id))).toEqual([]);
    const opened = await direct(bob, alice);
    expect(opened.status).toBe(201);
  });


  it("in any mix, leave the direct conversation's blocked state, in MongoDB and Redis, and both peer caches as the users' documents say", async () => {
    const [alice, bob] = await register("alice", "bob");
    const conversation: Conversation = (await direct(alice, bob)).body.conversation;
    for (let round = 0; round < 6; round++) {
      // Both users, several devices each, blocking and unblocking the other at once.
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => {
          const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
          return (i + round) % 3 === 0 ? unblock(from, to) : block(from, to);
        }),
      );
      expect(results.map((r) => r.status).every((status) => status === 200 || status === 204), JSON.stringify(results.map((r) => r.body))).toBe(true);

      const [aliceDoc, bobDoc] = await Promise.all([alice, bob].map((u) => api.models.User.findById(u.id).lean().exec()));
      const aliceBlocks = aliceDoc!.blocks.some((b) => b.userId.equals(bob.id));
      const bobBlocks = bobDoc!.blocks.some((b) => b.userId.equals(alice.id));
      // Each blockedBy mirrors the other's blocks.
      expect(bobDoc!.blockedBy.some((id) => id.equals(alice.id))).toBe(aliceBlocks);
      expect(aliceDoc!.blockedBy.some((id) => id.equals(bob.id))).toBe(bobBlocks);
      const blocked = aliceBlocks || bobBlocks;
      const stored = (await api.models.Conversation.findById(conversation.id).lean().exec())!;
      expect(stored.blocked, `round ${round}`).toBe(blocked);
      expect(await api.redis.get(api.keys.conversationBlocked(conversation.id))).toBe(blocked ? "1" : null);
      expect(Number(await api.redis.get(api.keys.conversationMembersVersion(conversation.id)))).toBe(stored.membersVersion);
      for (const doc of [aliceDoc!, bobDoc!]) {
        const id = doc._id.toHexString();
        expect((await api.redis.smembers(api.keys.userBlocks(id))).sort()).toEqual(peersOfDoc(doc).sort());
        expect(Number(await api.redis.get(api.keys.userBlocksVersion(id)))).toBe(doc.blocksVersion);
      }
      expect((await post(alice, conversation.id, `round ${round}`)).status).toBe(blocked ? 403 : 201);
    }
  });
});
