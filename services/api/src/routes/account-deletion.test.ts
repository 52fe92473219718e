/**
 * `DELETE /api/users/me` on the in-process API with the worker: the sessions, the conversations left,
 * the tombstone and what refuses it, and the erasure of the account's messages.
 */
import { describe, expect, it } from "vitest";

import { conversationRoom, userRoom } from "@parley/shared/events";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import type { UserDoc } from "@parley/shared/models";
import type { Conversation, Message } from "@parley/protocol";

import { collect, eventually } from "../../../../test/helpers/events.js";
import { useApi, type TestUser } from "../testing/api-harness.js";

const api = useApi("account-deletion", { worker: true });
const PASSWORD = "correct horse battery";

const me = (token: string) => api.request("GET", "/api/users/me", { token });
const deleteMe = (user: { token: string }, body: unknown, query = "") => api.request("DELETE", `/api/users/me${query}`, { token: user.token, body });
const history = async (as: TestUser, conversationId: string) =>
  (await api.request("GET", `/api/conversations/${conversationId}/messages`, { token: as.token })).body.messages as Message[];

describe("DELETE /api/users/me", () => {
  it("refuses an invalid body or query with 400 VALIDATION, and a wrong password with 401, deleting nothing", async () => {
    const user = await api.registerUser("dv");
    const other = await api.login(user);
    for (const [body, query, path] of [
      [{}, "", "password"],
      [{ password: "" }, "", "password"],
      [{ password: PASSWORD }, "?erase=maybe", "erase"],
    ] as const) {
      const res = await deleteMe(user, body, query);
      expect(res.status, `${JSON.stringify(body)} ${query}`).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
      expect(res.body.error.issues[0].path).toBe(path);
    }
    const wrong = await deleteMe(user, { password: "not the password" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("INVALID_CREDENTIALS");
    for (const token of [user.token, other.accessToken]) expect((await me(token)).status).toBe(200);
    expect((await api.models.User.findById(user.id).lean<UserDoc>())?.deletedAt).toBeNull();
  });

  it("revokes every session, leaves a tombstone that nothing serves, and frees the username", async () => {
    const [ada, bob] = [await api.registerUser("ada"), await api.registerUser("bob")];
    const phone = await api.login(ada, "Phone");
    const conversation = (await api.request("POST", "/api/conversations", { token: bob.token, body: { type: "direct", userId: ada.id } })).body
      .conversation as Conversation;
    const kept = await api.postStored(ada, conversation.id, "still here after I go");
    const revoked = api.probe.nextServerEvent("session:revoke", (p) => p.userId === ada.id);

    const res = await deleteMe({ token: phone.accessToken }, { password: PASSWORD });
    expect(res.status).toBe(204);
    const revocation = await revoked;
    expect(revocation.sessionIds.sort()).toEqual([ada.sessionId, phone.sessionId].sort());
    expect(revocation.ended).toEqual({ code: "SESSION_REVOKED", message: "This account was deleted" });

    // Tokens and refresh tokens of every session, the caller's included, and the password.
    for (const token of [ada.token, phone.accessToken]) {
      const refused = await me(token);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe("SESSION_REVOKED");
    }
    for (const refreshToken of [ada.refreshToken, phone.refreshToken]) {
      expect((await api.request("POST", "/api/auth/refresh", { body: { refreshToken } })).body.error.code).toBe("SESSION_REVOKED");
    }
    const login = await api.request("POST", "/api/auth/login", { body: { username: ada.username, password: PASSWORD } });
    expect(login.status).toBe(401);
    expect(login.body.error.code).toBe("INVALID_CREDENTIALS");

    // The tombstone: the id and creation time only.
    const tombstone = { id: ada.id, username: "", displayName: "Deleted user", avatarUrl: null, createdAt: ada.user.createdAt, deleted: true };
    expect((await api.request("GET", `/api/users/${ada.id}`, { token: bob.token })).body.user).toEqual(tombstone);
    const stored = await api.models.User.findById(ada.id).lean<UserDoc>();
    expect(stored).toMatchObject({
      usernameLower: `deleted:${ada.id}`,
      username: "",
      displayName: "",
      avatarUrl: null,
      passwordHash: "",
      blocks: [],
      blockedBy: [],
      sessionIds: [],
      deletedAt: expect.any(Date),
    });
    expect(JSON.stringify(stored)).not.toContain(ada.username);

    // Messages stay, as sent by the deleted user.
    expect(await history(bob, conversation.id)).toEqual([{ ...kept, persisted: true }]);

    // Nothing serves the tombstone: search, new conversations, group additions.
    const stem = ada.username.slice(0, -2);
    expect((await api.request("GET", `/api/users?q=${stem}`, { token: bob.token })).body.users).toEqual([]);
    expect((await api.request("GET", `/api/users?q=${encodeURIComponent("deleted:")}`, { token: bob.token })).body.users).toEqual([]);
    const group = await api.createGroup(bob, [await api.registerUser("cy")], "after");
    const add = await api.request("POST", `/api/conversations/${group.id}/members`, { token: bob.token, body: { userIds: [ada.id] } });
    expect(add.status).toBe(404);
    expect((await api.request("POST", "/api/conversations", { token: bob.token, body: { type: "group", name: "g", memberIds: [ada.id] } })).status).toBe(404);

    // The username is free again, in any case, for a new account of its own.
    const again = await api.request("POST", "/api/auth/register", { body: { username: ada.username.toUpperCase(), password: "another password" } });
    expect(again.status).toBe(201);
    expect(again.body.user.id).not.toBe(ada.id);
    const found = await api.request("GET", `/api/users?q=${stem}`, { token: bob.token });
    expect(found.body.users.map((u: { id: string }) => u.id)).toEqual([again.body.user.id]);
  });

  it("leaves every conversation: groups with admin succession, direct ones, and the others are told", async () => {
    const [ada, bob, cy] = [await api.registerUser("ada"), await api.registerUser("bob"), await api.registerUser("cy")];
    const owned = await api.createGroup(ada, [bob, cy], "ada's");
    const joined = await api.createGroup(cy, [ada], "cy's");
    const direct = (await api.request("POST", "/api/conversations", { token: ada.token, body: { type: "direct", userId: bob.id } })).body
      .conversation as Conversation;
    const [atBob, atCy] = [await api.probe.join([userRoom(bob.id)]), await api.probe.join([userRoom(cy.id)])];
    const updatedAtBob = collect<{ conversation: Conversation }>(atBob, "conversation:updated");
    const updatedAtCy = collect<{ conversation: Conversation }>(atCy, "conversation:updated");
    const inRoom = await api.probe.join([userRoom(ada.id), conversationRoom(owned.id)]);

    expect((await deleteMe(ada, { password: PASSWORD })).status).toBe(204);

    const after = async (as: TestUser, id: string) => (await api.request("GET", `/api/conversations/${id}`, { token: as.token })).body.conversation;
    expect(await after(bob, owned.id)).toMatchObject({ members: [bob.id, cy.id], admins: [bob.id] });
    expect(await after(cy, joined.id)).toMatchObject({ members: [cy.id], admins: [cy.id] });
    expect(await after(bob, direct.id)).toMatchObject({ members: [bob.id], admins: [bob.id] });
    await eventually(() => updatedAtBob.length >= 2 && updatedAtCy.length >= 2, 5_000, "conversation:updated to the others");
    const seen = (events: { conversation: Conversation }[]) => Object.fromEntries(events.map((e) => [e.conversation.id, e.conversation.members]));
    expect(seen(updatedAtBob)).toEqual({ [owned.id]: [bob.id, cy.id], [direct.id]: [bob.id] });
    expect(seen(updatedAtCy)).toEqual({ [owned.id]: [bob.id, cy.id], [joined.id]: [cy.id] });
    // The deleted user's sockets left the rooms, and the caches agree.
    await eventually(async () => !(await api.probe.roomsOf(inRoom)).includes(conversationRoom(owned.id)), 5_000, "left the room");
    const cache = new ConversationCache(api.redis, api.keys, api.models);
    expect(await cache.conversationsOf(ada.id)).toEqual([]);
    for (const id of [owned.id, joined.id, direct.id]) expect(await cache.isMember(id, ada.id)).toBe(false);
    expect((await api.request("GET", "/api/conversations", { token: bob.token })).body.conversations).toHaveLength(2);
  });

  it("with ?erase=true answers 202, and the worker deletes the content of every message the user sent", async () => {
    const [ada, bob, cy] = [await api.registerUser("ada"), await api.registerUser("bob"), await api.registerUser("cy")];
    const group = await api.createGroup(bob, [ada, cy], "talk");
    const direct = (await api.request("POST", "/api/conversations", { token: ada.token, body: { type: "direct", userId: cy.id } })).body
      .conversation as Conversation;
    const mine = [
      await api.postStored(ada, group.id, "first words"),
      await api.postStored(ada, direct.id, "a private word"),
      await api.postStored(ada, group.id, "last words"),
    ];
    const theirs = [await api.postStored(bob, group.id, "bob speaks"), await api.postStored(cy, direct.id, "cy answers")];
    const watchers = [await api.probe.join([conversationRoom(group.id)]), await api.probe.join([conversationRoom(direct.id)])];
    const deleted = watchers.map((socket) => collect<{ id: string; conversationId: string }>(socket, "message:deleted"));

    const res = await deleteMe(ada, { password: PASSWORD }, "?erase=true");
    expect(res.status).toBe(202);

    await eventually(() => deleted[0]!.length >= 2 && deleted[1]!.length >= 1, 10_000, "message:deleted to the members");
    const announced = deleted.flat().map((d) => d.id).sort();
    expect(announced).toEqual(mine.map((m) => m.id).sort());
    expect(deleted[0]!.every((d) => d.conversationId === group.id)).toBe(true);

    // Every message here was stored before the erasure: history says so.
    const erased = (m: Message) => ({ ...m, content: "", rev: 1, deletedAt: expect.any(String), persisted: true });
    const stored = (m: Message | undefined) => ({ ...m, persisted: true });
    expect(await history(bob, group.id)).toEqual([erased(mine[0]!), erased(mine[2]!), stored(theirs[0])]);
    expect(await history(cy, direct.id)).toEqual([erased(mine[1]!), stored(theirs[1])]);
    // And MongoDB stores it so, once the worker has written the new states.
    await eventually(
      async () => (await api.models.Message.countDocuments({ _id: { $in: mine.map((m) => m.id) }, deletedAt: { $exists: true }, content: "" })) === 3,
      10_000,
      "stored as deleted",
    );
    expect(await api.models.Message.countDocuments({ _id: { $in: theirs.map((m) => m.id) }, deletedAt: { $exists: true } })).toBe(0);
    // Run once more a little later, for what was still on its way to MongoDB.
    const rerun = await api.accounts.getJob(`erase-${ada.id}-again`);
    expect(rerun?.opts.delay).toBe(60_000);
    expect(await rerun?.getState()).toBe("delayed");
    await rerun?.remove();
  });

  it("without erase answers 204 and queues no erasure", async () => {
    const user = await api.registerUser("ne");
    expect((await deleteMe(user, { password: PASSWORD }, "?erase=false")).status).toBe(204);
    expect(await api.accounts.getJob(`erase-${user.id}`)).toBeUndefined();
    expect(await api.accounts.getJob(`erase-${user.id}-again`)).toBeUndefined();
  });
});
