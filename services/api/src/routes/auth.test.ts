import jwt from "jsonwebtoken";
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import type { AuthSession } from "@parley/protocol";

import { TEST_JWT_SECRET } from "../../../../test/helpers/env.js";
import { useApi, type TestUser } from "../testing/api-harness.js";

const api = useApi("auth");
const PASSWORD = "correct horse battery";

const SESSION = {
  user: expect.objectContaining({ id: expect.stringMatching(/^[0-9a-f]{24}$/) }),
  accessToken: expect.any(String),
  refreshToken: expect.stringMatching(/^[0-9a-f]{24}\.1\.[A-Za-z0-9_-]{43}$/),
  expiresIn: 900,
  sessionId: expect.stringMatching(/^[0-9a-f]{24}$/),
};

describe("POST /api/auth/register", () => {
  it("creates a user and a first session: the user, an access token, a refresh token, its lifetime and the session id", async () => {
    const username = api.username("Reg");
    const res = await api.request("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(SESSION);
    expect(res.body.user).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      username,
      displayName: username,
      avatarUrl: null,
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toContain("passwordHash");
    const me = await api.request("GET", "/api/users/me", { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(res.body.user);

    const claims = jwt.decode(res.body.accessToken) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: res.body.user.id, sid: res.body.sessionId, jti: expect.any(String) });
    expect(claims.exp! - claims.iat!).toBe(900);

    const stored = await api.models.User.findById(res.body.user.id).lean();
    expect(stored?.passwordHash).toMatch(/^scrypt\$/);
    expect(stored?.passwordHash).not.toContain(PASSWORD);
    // Nothing of the refresh token is stored.
    const session = await api.models.Session.findById(res.body.sessionId).lean();
    expect(JSON.stringify(session)).not.toContain(res.body.refreshToken.split(".")[2]);
  });

  it("keeps a given display name", async () => {
    const res = await api.request("POST", "/api/auth/register", {
      body: { username: api.username(), password: PASSWORD, displayName: "  Ada L.  " },
    });
    expect(res.status).toBe(201);
    expect(res.body.user.displayName).toBe("Ada L.");
  });

  it("refuses a taken username in any case with 409 USERNAME_TAKEN", async () => {
    const username = api.username("Case");
    expect((await api.request("POST", "/api/auth/register", { body: { username, password: PASSWORD } })).status).toBe(201);
    const again = await api.request("POST", "/api/auth/register", {
      body: { username: username.toUpperCase(), password: PASSWORD },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("USERNAME_TAKEN");
  });

  it("refuses invalid input with 400 VALIDATION naming each field", async () => {
    const res = await api.request("POST", "/api/auth/register", { body: { username: "a b", password: "short" } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION");
    expect(res.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["password", "username"]);
  });
});

describe("POST /api/auth/login", () => {
  it("logs in with the username in any case, in a session of its own", async () => {
    const alice = await api.registerUser("Alice");
    const res = await api.request("POST", "/api/auth/login", {
      body: { username: alice.username.toLowerCase(), password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(SESSION);
    expect(res.body.user).toEqual(alice.user);
    expect(res.body.sessionId).not.toBe(alice.sessionId);
    expect((await api.request("GET", "/api/users/me", { token: res.body.accessToken })).body.user.id).toBe(alice.id);
  });

  it("answers 401 INVALID_CREDENTIALS for a wrong password and for an unknown user alike", async () => {
    const bob = await api.registerUser("bob");
    const wrong = await api.request("POST", "/api/auth/login", { body: { username: bob.username, password: "not the password" } });
    const unknown = await api.request("POST", "/api/auth/login", { body: { username: api.username("ghost"), password: PASSWORD } });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: "INVALID_CREDENTIALS", message: "Wrong username or password" } });
    }
  });

  it("refuses a body without a password with 400 VALIDATION", async () => {
    const res = await api.request("POST", "/api/auth/login", { body: { username: "someone" } });
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([{ path: "password", message: expect.any(String) }]);
  });
});

/** Logs `user` in again, in a new session, optionally naming the device. */
async function login(user: TestUser, device?: string, userAgent = "test-agent/1.0"): Promise<AuthSession> {
  const res = await api.request("POST", "/api/auth/login", {
    body: { username: user.username, password: PASSWORD, ...(device ? { device } : {}) },
    headers: { "user-agent": userAgent },
  });
  expect(res.status).toBe(200);
  return res.body;
}

const me = (token: string) => api.request("GET", "/api/users/me", { token });
const refresh = (refreshToken: string, baseUrl = api.baseUrl) =>
  api.request("POST", `${baseUrl}/api/auth/refresh`, { body: { refreshToken } });

describe("POST /api/auth/refresh", () => {
  it("rotates both tokens: the new ones work, the refresh token presented is spent", async () => {
    const user = await api.registerUser("rot");
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...SESSION, refreshToken: expect.stringMatching(/\.2\./), sessionId: user.sessionId });
    expect(res.body.user).toEqual(user.user);
    expect(res.body.refreshToken).not.toBe(user.refreshToken);
    expect(res.body.accessToken).not.toBe(user.token);
    expect((await me(res.body.accessToken)).status).toBe(200);
    // The access token of before keeps working until it expires: rotation is not revocation.
    expect((await me(user.token)).status).toBe(200);
    const next = await refresh(res.body.refreshToken);
    expect(next.status).toBe(200);
    expect(next.body.refreshToken).toMatch(/\.3\./);
  });

  it("gives two concurrent refreshes of one token the same new tokens, and keeps the session (two tabs)", async () => {
    const user = await api.registerUser("tabs");
    const [a, b] = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.refreshToken).toBe(b.body.refreshToken);
    // Late, but inside the grace: still the same answer, and the session lives on.
    const late = await refresh(user.refreshToken);
    expect(late.status).toBe(200);
    expect(late.body.refreshToken).toBe(a.body.refreshToken);
    expect((await refresh(a.body.refreshToken)).status).toBe(200);
  });

  it("revokes the whole session when a spent refresh token comes back after the grace (reuse detection)", async () => {
    const strict = await api.startVariant({ config: { ...api.config, REFRESH_TOKEN_REUSE_GRACE_SECONDS: 0 } });
    const user = await api.registerUser("reuse");
    const other = await login(user);
    const revoked = api.probe.nextServerEvent("session:revoke", (p) => p.userId === user.id);
    const rotated = await refresh(user.refreshToken, strict.baseUrl);
    expect(rotated.status).toBe(200);

    const stolen = await refresh(user.refreshToken, strict.baseUrl);
    expect(stolen.status).toBe(401);
    expect(stolen.body.error.code).toBe("SESSION_REVOKED");
    expect(await revoked).toEqual({
      userId: user.id,
      sessionIds: [user.sessionId],
      ended: { code: "SESSION_REVOKED", message: expect.stringContaining("used twice") },
    });
    // Both the thief's and the owner's tokens of that session are dead now; other sessions are not.
    expect((await refresh(rotated.body.refreshToken)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(rotated.body.accessToken)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(user.token)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(other.accessToken)).status).toBe(200);
  });

  it("refuses a malformed or forged refresh token with INVALID_TOKEN, and an expired one with TOKEN_EXPIRED", async () => {
    const user = await api.registerUser("forge");
    const [sessionId, generation] = user.refreshToken.split(".");
    for (const token of ["nope", `${sessionId}.${generation}.${"A".repeat(43)}`, `${sessionId}.7.${user.refreshToken.split(".")[2]}`]) {
      const res = await refresh(token);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("INVALID_TOKEN");
    }
    expect((await api.request("POST", "/api/auth/refresh", { body: {} })).status).toBe(400);
    await api.models.Session.updateOne({ _id: user.sessionId }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await refresh(user.refreshToken);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("TOKEN_EXPIRED");
  });
});

describe("logout, logout everywhere and the session list", () => {
  it("logout revokes the caller's session only: its access and refresh tokens stop working, and every gateway is told", async () => {
    const user = await api.registerUser("out");
    const other = await login(user);
    const revoked = api.probe.nextServerEvent("session:revoke", (p) => p.userId === user.id);
    const res = await api.request("POST", "/api/auth/logout", { token: user.token });
    expect(res.status).toBe(204);
    expect(await revoked).toEqual({ userId: user.id, sessionIds: [user.sessionId], ended: { code: "SESSION_REVOKED", message: "You logged out" } });
    const after = await me(user.token);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("SESSION_REVOKED");
    expect((await refresh(user.refreshToken)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it("logout-all revokes every session of the caller, and only theirs", async () => {
    const user = await api.registerUser("all");
    const second = await login(user);
    const stranger = await api.registerUser("stranger");
    const revoked = api.probe.nextServerEvent("session:revoke", (p) => p.userId === user.id);
    expect((await api.request("POST", "/api/auth/logout-all", { token: second.accessToken })).status).toBe(204);
    expect((await revoked).sessionIds.sort()).toEqual([user.sessionId, second.sessionId].sort());
    for (const token of [user.token, second.accessToken]) expect((await me(token)).body.error.code).toBe("SESSION_REVOKED");
    for (const token of [user.refreshToken, second.refreshToken]) expect((await refresh(token)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(stranger.token)).status).toBe(200);
    // A login afterwards opens a working session.
    expect((await me((await login(user)).accessToken)).status).toBe(200);
  });

  it("lists the caller's active sessions with device, user agent, creation and last use, newest use first", async () => {
    const user = await api.registerUser("list");
    const phone = await login(user, "Phone", "PhoneBrowser/2");
    const laptop = await login(user, "Laptop", "LaptopBrowser/3");
    await api.request("POST", "/api/auth/logout", { token: phone.accessToken });
    const res = await api.request("GET", "/api/auth/sessions", { token: laptop.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.sessions).toEqual([
      {
        id: laptop.sessionId,
        device: "Laptop",
        userAgent: "LaptopBrowser/3",
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
        expiresAt: expect.any(String),
        current: true,
      },
      expect.objectContaining({ id: user.sessionId, device: null, current: false }),
    ]);
  });

  it("DELETE /api/auth/sessions/:id revokes one of the caller's sessions; another user's or an unknown one is 404", async () => {
    const user = await api.registerUser("del");
    const second = await login(user);
    const stranger = await api.registerUser("del2");
    expect((await api.request("DELETE", `/api/auth/sessions/${stranger.sessionId}`, { token: user.token })).status).toBe(404);
    expect((await me(stranger.token)).status).toBe(200);
    expect((await api.request("DELETE", `/api/auth/sessions/${new Types.ObjectId().toHexString()}`, { token: user.token })).status).toBe(404);
    expect((await api.request("DELETE", `/api/auth/sessions/${second.sessionId}`, { token: user.token })).status).toBe(204);
    expect((await me(second.accessToken)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(user.token)).status).toBe(200);
    // Already gone: 404 again.
    expect((await api.request("DELETE", `/api/auth/sessions/${second.sessionId}`, { token: user.token })).status).toBe(404);
  });

  it("keeps at most MAX_SESSIONS_PER_USER active sessions: a login beyond revokes the least recently used", async () => {
    const small = await api.startVariant({ config: { ...api.config, MAX_SESSIONS_PER_USER: 2 } });
    const user = await api.registerUser("cap");
    const loginAt = async () => {
      const res = await api.request("POST", `${small.baseUrl}/api/auth/login`, { body: { username: user.username, password: PASSWORD } });
      expect(res.status).toBe(200);
      return res.body as AuthSession;
    };
    const second = await loginAt();
    // The first session is used more recently than the second: the second goes.
    expect((await refresh(user.refreshToken)).status).toBe(200);
    const third = await loginAt();
    expect((await me(second.accessToken)).body.error.code).toBe("SESSION_REVOKED");
    expect((await me(user.token)).status).toBe(200);
    expect((await me(third.accessToken)).status).toBe(200);
    const list = await api.request("GET", "/api/auth/sessions", { token: third.accessToken });
    expect(list.body.sessions.map((s: { id: string }) => s.id).sort()).toEqual([user.sessionId, third.sessionId].sort());
  });
});

describe("authentication", () => {
  const me = (headers: Record<string, string>) => api.request("GET", "/api/users/me", { headers });

  it("requires a token: 401 AUTH_REQUIRED with a WWW-Authenticate challenge", async () => {
    const res = await me({});
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("AUTH_REQUIRED");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await me({ authorization: "Bearer " })).body.error.code).toBe("AUTH_REQUIRED");
  });

  it.each([
    ["a malformed token", "Bearer not-a-jwt"],
    ["another scheme", "Basic dXNlcjpwYXNz"],
  ])("refuses %s with INVALID_TOKEN", async (_, authorization) => {
    const res = await me({ authorization });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("INVALID_TOKEN");
  });

  it("refuses a token signed with another secret", async () => {
    const user = await api.registerUser();
    const token = jwt.sign({}, "another-secret-that-is-also-32-characters-long", { subject: user.id, expiresIn: 60 });
    const res = await me({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("INVALID_TOKEN");
  });

  it("refuses an unsigned alg:none token", async () => {
    const user = await api.registerUser();
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const token = `${encode({ alg: "none", typ: "JWT" })}.${encode({ sub: user.id, exp: Math.floor(Date.now() / 1000) + 60 })}.`;
    const res = await me({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("INVALID_TOKEN");
  });

  it("refuses an expired token with TOKEN_EXPIRED", async () => {
    const user = await api.registerUser();
    const token = jwt.sign({ sub: user.id, exp: Math.floor(Date.now() / 1000) - 10 }, TEST_JWT_SECRET, { algorithm: "HS256" });
    const res = await me({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("TOKEN_EXPIRED");
  });

  it("refuses the token of a deleted user with USER_NOT_FOUND", async () => {
    const user = await api.registerUser();
    await api.models.User.deleteOne({ _id: user.id });
    const res = await me({ authorization: `Bearer ${user.token}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("USER_NOT_FOUND");
  });

  it("refuses a token that names no session with INVALID_TOKEN", async () => {
    const user = await api.registerUser();
    const token = jwt.sign({}, TEST_JWT_SECRET, { algorithm: "HS256", subject: user.id, expiresIn: 60, jwtid: "x" });
    const res = await me({ authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("INVALID_TOKEN");
  });

  it("protects every route but register, login, refresh and health", async () => {
    const id = new Types.ObjectId().toHexString();
    const routes: [string, string][] = [
      ["POST", "/api/auth/logout"],
      ["POST", "/api/auth/logout-all"],
      ["GET", "/api/auth/sessions"],
      ["DELETE", `/api/auth/sessions/${id}`],
      ["GET", "/api/users/me"],
      ["GET", "/api/users?q=abc"],
      ["GET", `/api/users/${id}`],
      ["GET", "/api/conversations"],
      ["POST", "/api/conversations"],
      ["GET", `/api/conversations/${id}`],
      ["POST", `/api/conversations/${id}/members`],
      ["DELETE", `/api/conversations/${id}/members/${id}`],
      ["GET", `/api/conversations/${id}/messages`],
      ["POST", `/api/conversations/${id}/messages`],
    ];
    for (const [method, path] of routes) {
      const res = await api.request(method, path, method === "GET" ? {} : { body: {} });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body.error.code, `${method} ${path}`).toBe("AUTH_REQUIRED");
    }
  });
});
