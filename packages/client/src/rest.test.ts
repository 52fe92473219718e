/**
 * The REST client against the real API (its own Redis and FerretDB database), and every route's
 * answer checked against the route table's schemas.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { routes, type AuthSession, type RouteInput, type RouteName, type RouteOutput } from "@parley/protocol";
import { signAccessToken } from "@parley/shared/auth";

import { TEST_JWT_SECRET } from "../../../test/helpers/env.js";
import { rejectionOf } from "../../../test/helpers/rejection.js";
import { useApi } from "../../../services/api/src/testing/api-harness.js";
import { ParleyError } from "./errors.js";
import { createRestClient, type RestClient } from "./rest.js";

const api = useApi("rest-client", { objectStore: true });
const PASSWORD = "a password of the rest client";

/** The ParleyError `promise` rejects with. */
const failure = (promise: Promise<unknown>) => rejectionOf(promise, ParleyError);

function client(getToken?: () => Promise<string>): RestClient {
  return createRestClient({ url: api.baseUrl, ...(getToken && { getToken }) });
}

async function register(prefix = "rc"): Promise<AuthSession & { username: string }> {
  const username = api.username(prefix);
  return { username, ...(await client().call("auth.register", { body: { username, password: PASSWORD } })) };
}

const withToken = (token: string) => client(async () => token);

describe("the REST client", () => {
  it("registers, logs in, creates and lists conversations, posts and reads messages", async () => {
    const alice = await register();
    const bob = await register();
    expect(alice.user.username).toBe(alice.username);

    const login = await client().call("auth.login", { body: { username: bob.username, password: PASSWORD, device: "test" } });
    expect(login.user.id).toBe(bob.user.id);
    expect(login.sessionId).not.toBe(bob.sessionId);

    const rest = withToken(alice.accessToken);
    const { conversation } = await rest.call("conversations.create", { body: { type: "direct", userId: bob.user.id } });
    const again = await withToken(login.accessToken).call("conversations.create", { body: { type: "direct", userId: alice.user.id } });
    expect(again.conversation.id).toBe(conversation.id);
    expect((await rest.call("conversations.list", {})).conversations.map((c) => c.id)).toEqual([conversation.id]);

    const posted = await rest.call("messages.post", { params: { id: conversation.id }, body: { clientMsgId: "m-1", content: "hello / ? & bob" } });
    expect(posted.message).toMatchObject({ seq: 1, content: "hello / ? & bob", senderId: alice.user.id });
    const page = await withToken(login.accessToken).call("messages.history", { params: { id: conversation.id }, query: { limit: 10, before: undefined } });
    expect(page).toEqual({ messages: [posted.message], nextBefore: null });
  });

  it("throws the server's error: 404, and 400 with the invalid fields", async () => {
    const alice = await register();
    const rest = withToken(alice.accessToken);
    const notFound = await failure(rest.call("users.get", { params: { id: "0123456789abcdef01234567" } }));
    expect(notFound).toMatchObject({ code: "NOT_FOUND", status: 404, retryable: false });

    const { conversation } = await rest.call("conversations.create", { body: { type: "group", name: "g", memberIds: [(await register()).user.id] } });
    const invalid = await failure(rest.call("messages.post", { params: { id: conversation.id }, body: { clientMsgId: "m", content: "   " } }));
    expect(invalid).toMatchObject({ code: "VALIDATION", status: 400 });
    expect(invalid.issues?.map((i) => i.path)).toEqual(["content"]);

    // A path parameter is encoded, never a path of its own.
    const encoded = await failure(rest.call("users.get", { params: { id: "../me" } }));
    expect(encoded).toMatchObject({ code: "VALIDATION", status: 400 });

    const anonymous = await failure(client().call("users.me", {}));
    expect(anonymous).toMatchObject({ code: "AUTH_REQUIRED", status: 401 });
  });

  it("after 401 TOKEN_EXPIRED asks for a token once more and retries once", async () => {
    const alice = await register();
    const expired = signAccessToken({ userId: alice.user.id, sessionId: alice.sessionId }, TEST_JWT_SECRET, 60, Date.now() - 3_600_000).token;
    const tokens = [expired, alice.accessToken];
    let asked = 0;
    const rest = client(async () => tokens[asked++]!);
    expect((await rest.call("users.me", {})).user.id).toBe(alice.user.id);
    expect(asked).toBe(2);

    // Expired twice: the second refusal is thrown, with no third attempt.
    asked = 0;
    const stale = client(async () => {
      asked++;
      return expired;
    });
    expect(await failure(stale.call("users.me", {}))).toMatchObject({ code: "TOKEN_EXPIRED", status: 401 });
    expect(asked).toBe(2);

    // Public routes never ask.
    asked = 0;
    await stale.call("auth.login", { body: { username: alice.username, password: PASSWORD } });
    expect(asked).toBe(0);
  });

  it("answers undefined for 204", async () => {
    const alice = await register();
    const rest = withToken(alice.accessToken);
    expect(await rest.call("auth.logout", {})).toBeUndefined();
    expect(await failure(rest.call("users.me", {}))).toMatchObject({ code: "SESSION_REVOKED" });
  });

  it("turns no answer into UNAVAILABLE, and Retry-After into retryAfterMs", async () => {
    const down = createRestClient({ url: "http://127.0.0.1:1" });
    expect(await failure(down.call("auth.login", { body: { username: "x", password: "y" } }))).toMatchObject({ code: "UNAVAILABLE", retryable: true });

    const seen: { url: string; init: RequestInit | undefined }[] = [];
    const busy = createRestClient({
      url: "http://parley.test/base/",
      headers: { "x-app": "tests" },
      getToken: async () => "t0k",
      fetch: async (url, init) => {
        seen.push({ url: String(url), init });
        return new Response("<html>busy</html>", { status: 503, headers: { "retry-after": "7" } });
      },
    });
    const err = await failure(busy.call("messages.history", { params: { id: "a b" }, query: { limit: 5 } }));
    expect(err).toMatchObject({ code: "UNAVAILABLE", status: 503, retryAfterMs: 7000, retryable: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe("http://parley.test/base/api/conversations/a%20b/messages?limit=5");
    expect(seen[0]!.init?.headers).toMatchObject({ authorization: "Bearer t0k", "x-app": "tests" });
  });
});

describe("the route table", () => {
  /** Calls `name` and checks its answer against the schemas of the route's success statuses. */
  async function checked<N extends RouteName>(called: Set<RouteName>, rest: RestClient, name: N, input: RouteInput<N>): Promise<RouteOutput<N>> {
    const answer = await rest.call(name, input);
    const schemas = Object.values(routes[name].responses).filter((s): s is z.ZodType => s !== null);
    if (schemas.length === 0) expect(answer, name).toBeUndefined();
    else {
      const result = z.union(schemas).safeParse(answer);
      expect(result.error?.issues, name).toBeUndefined();
    }
    called.add(name);
    return answer;
  }

  it("describes what every route answers", async () => {
    const called = new Set<RouteName>();
    const call = <N extends RouteName>(rest: RestClient, name: N, input: RouteInput<N>) => checked(called, rest, name, input);
    const anonymous = client();
    const username = api.username("table");
    const alice = await call(anonymous, "auth.register", { body: { username, password: PASSWORD, displayName: "Alice" } });
    const bob = await register();
    const carol = await register();
    const second = await call(anonymous, "auth.login", { body: { username, password: PASSWORD } });
    const refreshed = await call(anonymous, "auth.refresh", { body: { refreshToken: alice.refreshToken } });
    const rest = withToken(refreshed.accessToken);

    await call(rest, "users.me", {});
    await call(rest, "users.search", { query: { q: username } });
    await call(rest, "users.get", { params: { id: bob.user.id } });
    await call(rest, "account.update", { body: { displayName: "Alice A.", avatarUrl: null } });
    const { sessions } = await call(rest, "sessions.list", {});
    expect(sessions).toHaveLength(2);
    await call(rest, "sessions.revoke", { params: { id: second.sessionId } });

    await call(rest, "blocks.add", { body: { userId: carol.user.id } });
    await call(rest, "blocks.list", {});
    await call(rest, "blocks.remove", { params: { userId: carol.user.id } });

    const { conversation } = await call(rest, "conversations.create", { body: { type: "group", name: "table", memberIds: [bob.user.id] } });
    await call(rest, "members.add", { params: { id: conversation.id }, body: { userIds: [carol.user.id] } });
    await call(rest, "members.remove", { params: { id: conversation.id, userId: carol.user.id } });
    await call(rest, "messages.post", { params: { id: conversation.id }, body: { clientMsgId: "t-1", content: "one", type: "text" } });
    await call(rest, "messages.history", { params: { id: conversation.id } });
    const { attachment } = await call(rest, "attachments.create", { params: { id: conversation.id }, body: { name: "a.txt", size: 3, contentType: "text/plain" } });
    await call(rest, "attachments.get", { params: { id: attachment.id }, query: { redirect: "false" } });
    await call(rest, "conversations.get", { params: { id: conversation.id } });
    await call(rest, "conversations.list", {});
    await call(rest, "account.export", {});
    await call(rest, "calls.iceServers", {});
    await call(rest, "account.changePassword", { body: { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` } });
    await call(rest, "auth.logoutAll", {});

    const bobRest = withToken(bob.accessToken);
    await call(bobRest, "auth.logout", {});
    await call(withToken(carol.accessToken), "account.delete", { query: { erase: "false" }, body: { password: PASSWORD } });

    expect([...called].sort()).toEqual(Object.keys(routes).sort());
  });
});
