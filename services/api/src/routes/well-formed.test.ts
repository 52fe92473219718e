/**
 * One rule for every string of every REST body, query and path parameter: a lone UTF-16 surrogate or
 * a NUL anywhere is refused with 400 VALIDATION naming the field, before the route does anything.
 */
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";

import { stringPaths, withStringAt } from "../../../../test/helpers/payloads.js";
import { useApi } from "../testing/api-harness.js";

const api = useApi("well-formed");
const MALFORMED = ["x\ud800y", "\udc00", "nul\u0000"];

describe("malformed text in REST input", () => {
  it("refuses it in every string field of every body, naming the field, whoever sends it", async () => {
    const user = await api.registerUser("wf");
    const id = new Types.ObjectId().toHexString();
    const group = await api.createGroup(user, [await api.registerUser("wf2")]);
    const bodies: [method: string, path: string, body: unknown, auth: boolean][] = [
      ["POST", "/api/auth/register", { username: "someone_new", password: "correct horse battery", displayName: "Some One", device: "laptop" }, false],
      ["POST", "/api/auth/login", { username: user.username, password: "correct horse battery", device: "laptop" }, false],
      ["POST", "/api/auth/refresh", { refreshToken: user.refreshToken }, false],
      ["POST", "/api/conversations", { type: "group", name: "crew", memberIds: [id] }, true],
      ["POST", "/api/conversations", { type: "direct", userId: id }, true],
      ["POST", `/api/conversations/${group.id}/members`, { userIds: [id] }, true],
      ["POST", `/api/conversations/${group.id}/messages`, { clientMsgId: "c-1", content: "hello", type: "text", replyToId: id }, true],
      ["POST", "/api/users/me/blocks", { userId: id }, true],
    ];
    for (const bad of MALFORMED) {
      for (const [method, path, body, auth] of bodies) {
        for (const at of stringPaths(body)) {
          const res = await api.request(method, path, { body: withStringAt(body, at, bad), ...(auth ? { token: user.token } : {}) });
          expect(res.status, `${method} ${path} ${at.join(".")}`).toBe(400);
          expect(res.body.error, `${method} ${path} ${at.join(".")}`).toMatchObject({ code: "VALIDATION", issues: [{ path: at.join(".") }] });
        }
      }
    }
    // Nothing was created or sent meanwhile.
    expect((await api.request("GET", `/api/conversations/${group.id}/messages`, { token: user.token })).body.messages).toEqual([]);
  });

  it("refuses a NUL in a query string or a path parameter", async () => {
    const user = await api.registerUser("wfq");
    const search = await api.request("GET", "/api/users?q=ab%00c", { token: user.token });
    expect(search.status).toBe(400);
    expect(search.body.error).toMatchObject({ code: "VALIDATION", issues: [{ path: "q" }] });
    const param = await api.request("GET", "/api/users/%00", { token: user.token });
    expect(param.status).toBe(400);
    expect(param.body.error.code).toBe("VALIDATION");
  });
});
