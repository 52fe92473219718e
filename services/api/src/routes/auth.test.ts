import jwt from "jsonwebtoken";
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { TEST_JWT_SECRET } from "../../../../test/helpers/env.js";
import { useApi } from "../testing/api-harness.js";

const api = useApi("auth");
const PASSWORD = "correct horse battery";

describe("POST /api/auth/register", () => {
  it("creates a user, defaults the display name to the username and returns a working token", async () => {
    const username = api.username("Reg");
    const res = await api.request("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      username,
      displayName: username,
      avatarUrl: null,
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toContain("passwordHash");
    const me = await api.request("GET", "/api/users/me", { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(res.body.user);

    const stored = await api.models.User.findById(res.body.user.id).lean();
    expect(stored?.passwordHash).toMatch(/^scrypt\$/);
    expect(stored?.passwordHash).not.toContain(PASSWORD);
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
  it("logs in with the username in any case", async () => {
    const alice = await api.registerUser("Alice");
    const res = await api.request("POST", "/api/auth/login", {
      body: { username: alice.username.toLowerCase(), password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(alice.user);
    expect((await api.request("GET", "/api/users/me", { token: res.body.token })).body.user.id).toBe(alice.id);
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

  it("protects every route but register, login and health", async () => {
    const id = new Types.ObjectId().toHexString();
    const routes: [string, string][] = [
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
