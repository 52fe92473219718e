/**
 * The caller's own account on the in-process API (with the worker, for stored messages and receipts):
 * the password change, the profile, the export, and the `account` limit they share.
 */
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { messageToDoc } from "@parley/shared/models";
import type { AccountExport, Conversation } from "@parley/protocol";

import { fakeMessage } from "../../../../test/helpers/seed.js";
import { useApi } from "../testing/api-harness.js";

const api = useApi("account", { worker: true });
const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "battery staple horse";

const me = (token: string) => api.request("GET", "/api/users/me", { token });
const refresh = (refreshToken: string) => api.request("POST", "/api/auth/refresh", { body: { refreshToken } });
const loginAs = (username: string, password: string, base = "") =>
  api.request("POST", `${base}/api/auth/login`, { body: { username, password } });

const changePassword = (token: string, body: unknown, base = "") => api.request("POST", `${base}/api/users/me/password`, { token, body });

describe("POST /api/users/me/password", () => {
  it("refuses an invalid body with 400 VALIDATION naming each field, and changes nothing", async () => {
    const user = await api.registerUser("pwv");
    const cases: [unknown, string[]][] = [
      [{}, ["currentPassword", "newPassword"]],
      [{ currentPassword: PASSWORD, newPassword: "short" }, ["newPassword"]],
      [{ currentPassword: "", newPassword: NEW_PASSWORD }, ["currentPassword"]],
      [{ currentPassword: PASSWORD, newPassword: "x".repeat(257) }, ["newPassword"]],
    ];
    for (const [body, paths] of cases) {
      const res = await changePassword(user.token, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
      expect(res.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(paths);
    }
    expect((await loginAs(user.username, PASSWORD)).status).toBe(200);
  });

  it("refuses a wrong current password with 401 INVALID_CREDENTIALS, and revokes nothing", async () => {
    const user = await api.registerUser("pww");
    const other = await api.login(user);
    const res = await changePassword(user.token, { currentPassword: "not the password", newPassword: NEW_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("INVALID_CREDENTIALS");
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await loginAs(user.username, PASSWORD)).status).toBe(200);
    expect((await loginAs(user.username, NEW_PASSWORD)).status).toBe(401);
  });

  it("stores the new password and revokes every other session on every gateway; the caller's goes on", async () => {
    const user = await api.registerUser("pw");
    const [caller, third] = [await api.login(user), await api.login(user)];
    const stranger = await api.registerUser("pws");
    const revoked = api.probe.nextServerEvent("session:revoke", (p) => p.userId === user.id);

    const res = await changePassword(caller.accessToken, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    expect(res.status).toBe(204);
    const revocation = await revoked;
    expect(revocation.sessionIds.sort()).toEqual([user.sessionId, third.sessionId].sort());
    expect(revocation.ended).toEqual({ code: "SESSION_REVOKED", message: "Your password was changed: log in again" });

    for (const token of [user.token, third.accessToken]) {
      const refused = await me(token);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe("SESSION_REVOKED");
    }
    for (const token of [user.refreshToken, third.refreshToken]) expect((await refresh(token)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(caller.accessToken)).status).toBe(200);
    expect((await refresh(caller.refreshToken)).status).toBe(200);
    expect((await me(stranger.token)).status).toBe(200);

    const old = await loginAs(user.username, PASSWORD);
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe("INVALID_CREDENTIALS");
    expect((await loginAs(user.username.toUpperCase(), NEW_PASSWORD)).status).toBe(200);
    const stored = await api.models.User.findById(user.id).lean();
    expect(stored?.passwordHash).toMatch(/^scrypt\$/);
    expect(JSON.stringify(stored)).not.toContain(NEW_PASSWORD);
  });

  it("takes a token of the username's login bucket before checking the password, right or wrong", async () => {
    const strict = await api.startVariant({ config: { ...api.config, RATE_LIMIT_LOGIN_BURST: 2, RATE_LIMIT_LOGIN_RATE: 0.001 } });
    const user = await api.registerUser("pwl");
    for (let i = 0; i < 2; i++) {
      expect((await changePassword(user.token, { currentPassword: `guess ${i}`, newPassword: NEW_PASSWORD }, strict.baseUrl)).status).toBe(401);
    }
    const limited = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, strict.baseUrl);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: "RATE_LIMITED", retryAfterMs: expect.any(Number) });
    // The same bucket as logins of the username from an address it never logged in from.
    const elsewhere = await api.request("POST", `${strict.baseUrl}/api/auth/login`, {
      body: { username: user.username, password: PASSWORD },
      headers: { "x-forwarded-for": "192.0.2.7" },
    });
    expect(elsewhere.status).toBe(429);
    expect((await loginAs(user.username, NEW_PASSWORD)).status).toBe(401);
  });
});

describe("PATCH /api/users/me", () => {
  it("validates: at least one field, a display name of 1..64 characters, an http(s) avatar URL", async () => {
    const user = await api.registerUser("pv");
    const cases: [unknown, string][] = [
      [{}, ""],
      [{ displayName: "   " }, "displayName"],
      [{ displayName: "x".repeat(65) }, "displayName"],
      [{ avatarUrl: "javascript:alert(1)" }, "avatarUrl"],
      [{ avatarUrl: "ftp://example.com/a.png" }, "avatarUrl"],
      [{ avatarUrl: 42 }, "avatarUrl"],
    ];
    for (const [body, path] of cases) {
      const res = await api.request("PATCH", "/api/users/me", { token: user.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("VALIDATION");
      expect(res.body.error.issues[0].path).toBe(path);
    }
  });

  it("changes the display name and the avatar as everyone sees them; avatarUrl null removes it", async () => {
    const [user, other] = [await api.registerUser("pr"), await api.registerUser("po")];
    const changed = await api.request("PATCH", "/api/users/me", {
      token: user.token,
      body: { displayName: "  Ada L.  ", avatarUrl: "https://img.example.com/ada.png" },
    });
    expect(changed.status).toBe(200);
    const expected = { ...user.user, displayName: "Ada L.", avatarUrl: "https://img.example.com/ada.png" };
    expect(changed.body).toEqual({ user: expected });
    expect((await api.request("GET", `/api/users/${user.id}`, { token: other.token })).body.user).toEqual(expected);
    expect((await me(user.token)).body.user).toEqual(expected);

    const removed = await api.request("PATCH", "/api/users/me", { token: user.token, body: { avatarUrl: null } });
    expect(removed.body.user).toEqual({ ...expected, avatarUrl: null });
    expect((await api.request("GET", `/api/users/${user.id}`, { token: other.token })).body.user).toEqual({ ...expected, avatarUrl: null });
  });
});

const byId = <T extends { id: string }>(items: readonly T[]) => [...items].sort((a, b) => (a.id < b.id ? -1 : 1));

describe("GET /api/users/me/export", () => {
  it("downloads everything stored about the caller as JSON, and nothing of other users", async () => {
    const [ada, bob, cy] = [await api.registerUser("ada"), await api.registerUser("bob"), await api.registerUser("cy")];
    const phone = await api.login(ada, "Phone");
    expect((await api.request("POST", "/api/auth/logout", { token: phone.accessToken })).status).toBe(204);
    const group = await api.createGroup(ada, [bob, cy], "friends");
    // After the group: a block of cy would refuse adding cy to it.
    const blockedAt = new Date("2024-05-01T10:00:00.000Z");
    await api.models.User.updateOne({ _id: ada.id }, { $set: { blocks: [{ userId: new Types.ObjectId(cy.id), createdAt: blockedAt }] } });
    const direct = (await api.request("POST", "/api/conversations", { token: ada.token, body: { type: "direct", userId: bob.id } })).body
      .conversation as Conversation;
    const mine = [await api.postStored(ada, group.id, "ada one"), await api.postStored(ada, direct.id, "ada two")];
    await api.postStored(bob, group.id, "bob's secret");
    mine.push(await api.postStored(ada, group.id, "ada three"));
    await api.postStored(cy, group.id, "cy's secret");

    const res = await api.request("GET", "/api/users/me/export", { token: ada.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="parley-export-${ada.username}.json"`);
    const body = res.body as AccountExport;
    expect(Object.keys(body)).toEqual(["exportedAt", "user", "sessions", "blocks", "conversations", "receipts", "messages"]);
    expect(Date.parse(body.exportedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.user).toEqual({
      id: ada.id,
      username: ada.username,
      displayName: ada.username,
      avatarUrl: null,
      createdAt: ada.user.createdAt,
      updatedAt: expect.any(String),
      lastSeen: null,
    });
    expect(body.sessions).toEqual([
      {
        id: ada.sessionId,
        device: null,
        userAgent: expect.any(String),
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
        expiresAt: expect.any(String),
        revokedAt: null,
        revokedReason: null,
      },
      expect.objectContaining({ id: phone.sessionId, device: "Phone", revokedAt: expect.any(String), revokedReason: "logout" }),
    ]);
    expect(body.blocks).toEqual([{ userId: cy.id, createdAt: blockedAt.toISOString() }]);

    const listed = (await api.request("GET", "/api/conversations", { token: ada.token })).body.conversations as Conversation[];
    const wire = (c: Conversation) => {
      const { unreadCount: _u, readPointers: _r, deliveredPointers: _d, ...conversation } = c as Conversation & Record<string, unknown>;
      return { ...conversation, lastMessage: null };
    };
    expect(byId(body.conversations)).toEqual(byId(listed.map(wire)));
    expect(body.conversations.map((c) => c.id).sort()).toEqual([group.id, direct.id].sort());
    expect(body.receipts.map((r) => r.conversationId).sort()).toEqual([group.id, direct.id].sort());
    expect(body.receipts.find((r) => r.conversationId === group.id)).toEqual({
      conversationId: group.id,
      read: 3,
      readAt: expect.any(String),
      delivered: 3,
      deliveredAt: expect.any(String),
    });
    expect(byId(body.messages)).toEqual(byId(mine));

    const text = JSON.stringify(body);
    for (const foreign of [bob.username, cy.username, "bob's secret", "cy's secret", bob.sessionId, "passwordHash", "salt", "generation"]) {
      expect(text).not.toContain(foreign);
    }
  });

  it("pages through a large account: every message, once, in its latest state", async () => {
    const user = await api.registerUser("big");
    const conversationId = new Types.ObjectId().toHexString();
    const sent = Array.from({ length: 450 }, (_, i) => fakeMessage(conversationId, i + 1, { senderId: user.id }));
    await api.models.Message.insertMany(sent.map(messageToDoc));
    await api.models.Message.insertMany([messageToDoc(fakeMessage(conversationId, 451))]);
    // A later state that Redis holds and MongoDB does not (yet): the export shows it.
    const newer = { ...sent[7]!, content: "", rev: 1, deletedAt: new Date().toISOString() };
    await api.redis.hset(api.keys.conversationOverlay(conversationId), newer.id, JSON.stringify(newer));

    const res = await api.request("GET", "/api/users/me/export", { token: user.token });
    expect(res.status).toBe(200);
    const { messages } = res.body as AccountExport;
    expect(messages).toHaveLength(450);
    expect(byId(messages)).toEqual(byId(sent.map((m) => (m.id === newer.id ? newer : m))));
  });

  it("shares the caller's account bucket with the password change and the deletion", async () => {
    const small = await api.startVariant({ config: { ...api.config, RATE_LIMIT_ACCOUNT_BURST: 2, RATE_LIMIT_ACCOUNT_RATE: 0.001 } });
    const [user, other] = [await api.registerUser("lim"), await api.registerUser("lim2")];
    expect((await api.request("GET", `${small.baseUrl}/api/users/me/export`, { token: user.token })).status).toBe(200);
    expect((await changePassword(user.token, { currentPassword: "wrong password", newPassword: NEW_PASSWORD }, small.baseUrl)).status).toBe(401);
    for (const [method, path, body] of [
      ["GET", "/api/users/me/export", undefined],
      ["POST", "/api/users/me/password", { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }],
      ["DELETE", "/api/users/me", { password: PASSWORD }],
    ] as const) {
      const res = await api.request(method, `${small.baseUrl}${path}`, { token: user.token, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(429);
      expect(res.body.error.code).toBe("RATE_LIMITED");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Per user, and the profile is not limited by it.
    expect((await api.request("PATCH", `${small.baseUrl}/api/users/me`, { token: user.token, body: { displayName: "still" } })).status).toBe(200);
    expect((await api.request("GET", `${small.baseUrl}/api/users/me/export`, { token: other.token })).status).toBe(200);
    expect((await me(user.token)).status).toBe(200);
  });
});
