import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { useApi } from "../testing/api-harness.js";

const api = useApi("users");
const PASSWORD = "correct horse battery";

describe("users", () => {
  it("finds users by a case-insensitive username prefix, sorted, limited, regex characters taken literally", async () => {
    const stem = `Srch${Date.now().toString(36)}`;
    const names = [`${stem}_b`, `${stem}_a`, `${stem}.c`, `${stem}-d`];
    const users = [];
    for (const name of names) {
      const res = await api.request("POST", "/api/auth/register", { body: { username: name, password: PASSWORD } });
      users.push(res.body);
    }
    const searcher = users[0]!.accessToken as string;

    const all = await api.request("GET", `/api/users?q=${stem.toLowerCase()}`, { token: searcher });
    expect(all.status).toBe(200);
    expect(all.body.users.map((u: { username: string }) => u.username)).toEqual(
      [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)),
    );
    expect(all.body.users[0]).not.toHaveProperty("passwordHash");

    const dot = await api.request("GET", `/api/users?q=${encodeURIComponent(`${stem}.`)}`, { token: searcher });
    expect(dot.body.users.map((u: { username: string }) => u.username)).toEqual([`${stem}.c`]);

    const limited = await api.request("GET", `/api/users?q=${stem}&limit=2`, { token: searcher });
    expect(limited.body.users).toHaveLength(2);

    const anchored = await api.request("GET", `/api/users?q=${stem.slice(1)}`, { token: searcher });
    expect(anchored.body.users).toEqual([]);

    const pattern = await api.request("GET", `/api/users?q=${encodeURIComponent(".*")}`, { token: searcher });
    expect(pattern.status).toBe(200);
    expect(pattern.body.users).toEqual([]);
  });

  it("validates the search query", async () => {
    const user = await api.registerUser();
    for (const query of ["", "?q=", "?q=ab&limit=0", "?q=ab&limit=51", "?q=ab&limit=x", "?q=a&q=b"]) {
      const res = await api.request("GET", `/api/users${query}`, { token: user.token });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe("VALIDATION");
    }
  });

  it("reads a user by id: 404 when unknown, 400 when the id is malformed", async () => {
    const [a, b] = [await api.registerUser(), await api.registerUser()];
    const found = await api.request("GET", `/api/users/${b.id}`, { token: a.token });
    expect(found.status).toBe(200);
    expect(found.body.user).toEqual(b.user);

    const unknown = await api.request("GET", `/api/users/${new Types.ObjectId().toHexString()}`, { token: a.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");

    const malformed = await api.request("GET", "/api/users/not-an-id", { token: a.token });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.issues[0].path).toBe("id");
  });
});
