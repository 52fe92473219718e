/**
 * `GET /api/openapi.json` on the real API (its own Redis and FerretDB database): the document it serves,
 * every route the Express app registers found in it (read from the app's router, not from the route
 * table), and the real answers of every route, successes and failures, valid against the schema the
 * document gives for that operation and status.
 */
import type { Express } from "express";
import { describe, expect, it } from "vitest";

import { openApiDocument, type OpenApiDocument } from "@parley/protocol";

import { describeErrors, documentSchemas, type DocumentSchemas } from "../../../../test/helpers/openapi.js";
import { useApi, type TestResponse } from "../testing/api-harness.js";
import { DOCS_PATHS, DOCUMENT_MAX_AGE_SECONDS } from "./docs.routes.js";

const api = useApi("openapi", { objectStore: true });

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: unknown;
  handle: { stack?: Layer[] };
}

/** `METHOD /path` of every route registered on `app`, with the paths of the routers it is mounted in. */
function registeredRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const method of Object.keys(layer.route.methods).filter((m) => m !== "_all")) {
            found.push(`${method.toUpperCase()} ${`${prefix}${path}`.replace(/(.)\/$/, "$1")}`);
          }
        }
      } else if (layer.handle.stack) {
        if (typeof layer.rawPath !== "string") throw new Error(`a router mounted at ${String(layer.rawPath)}: not a path this test reads`);
        walk(layer.handle.stack, layer.rawPath === "/" ? prefix : `${prefix}${layer.rawPath}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, "");
  return found;
}

/** `METHOD /path` of every operation of the document, in Express syntax. */
function documentedRoutes(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
  );
}

async function servedDocument(): Promise<OpenApiDocument> {
  const res = await api.request("GET", DOCS_PATHS.document);
  expect(res.status).toBe(200);
  return res.body as OpenApiDocument;
}

describe("GET /api/openapi.json", () => {
  it("serves the document of the route table without a token, cacheable, with PUBLIC_URL as its server", async () => {
    const res = await api.request("GET", DOCS_PATHS.document);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe(`public, max-age=${DOCUMENT_MAX_AGE_SECONDS}`);
    expect(res.headers.get("etag")).toBeTruthy();
    expect(res.body.openapi).toBe("3.1.1");
    expect(res.body.servers).toEqual([{ url: api.config.PUBLIC_URL }]);
    expect(res.body.info.version).toMatch(/^\d+\.\d+ \(server \d+\.\d+\.\d+\)$/);
    const { servers: _servers, info: _info, ...rest } = res.body as OpenApiDocument;
    const { servers: _s, info: _i, ...generated } = openApiDocument();
    expect(rest).toEqual(generated);
    // Every other answer of the API stays uncacheable.
    expect((await api.request("GET", "/api/users/me")).headers.get("cache-control")).toBe("no-store");
  });

  it("documents every route the app registers, with the path parameters Express reads, and nothing else", async () => {
    const document = await servedDocument();
    const registered = registeredRoutes(api.app);
    const docs = [DOCS_PATHS.document, DOCS_PATHS.page, DOCS_PATHS.script, `${DOCS_PATHS.assets}/:file`].map((path) => `GET ${path}`);
    expect(registered).toEqual(expect.arrayContaining(docs));
    const apiRoutes = registered.filter((route) => !docs.includes(route));
    expect(apiRoutes.length).toBeGreaterThan(20);
    expect(new Set(apiRoutes).size).toBe(apiRoutes.length);
    expect([...apiRoutes].sort()).toEqual(documentedRoutes(document).sort());

    const schemas = documentSchemas(document);
    for (const route of apiRoutes) {
      const [method, expressPath] = route.split(" ") as [string, string];
      const operation = document.paths[expressPath.replace(/:(\w+)/g, "{$1}")]![method.toLowerCase()]!;
      const pathParameters = [...expressPath.matchAll(/:(\w+)/g)].map((m) => m[1]);
      expect(operation.parameters?.filter((p) => p.in === "path").map((p) => p.name) ?? [], route).toEqual(pathParameters);
      const successes = Object.keys(operation.responses).filter((status) => status.startsWith("2"));
      expect(successes.length, route).toBeGreaterThan(0);
      expect(operation.responses, route).toHaveProperty("default");
      expect(schemas.operation(operation.operationId).path, route).toBe(expressPath.replace(/:(\w+)/g, "{$1}"));
    }
  });
});

/** Calls operations by their id, at the document's path and method, and checks every answer against the document. */
function caller(schemas: DocumentSchemas) {
  const seen = new Map<string, Set<number>>();
  return {
    seen,
    async call(
      id: string,
      options: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown; token?: string } = {},
    ): Promise<TestResponse> {
      const { path, method, operation } = schemas.operation(id);
      let url = path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(options.params?.[name] ?? ""));
      if (options.query) url += `?${new URLSearchParams(options.query)}`;
      const res = await api.request(method.toUpperCase(), url, {
        ...(options.token !== undefined && { token: options.token }),
        ...(options.body !== undefined && { body: options.body }),
      });
      const label = `${id} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`;
      expect(Object.keys(operation.responses), `${label}: a status the document does not list`).toContain(String(res.status));
      const errors = schemas.checkResponse(id, res.status, res.body);
      expect(errors, `${label}\n${describeErrors(errors)}`).toEqual([]);
      seen.set(id, (seen.get(id) ?? new Set()).add(res.status));
      return res;
    },
  };
}

describe("every route's real answers", () => {
  it("conform to the document's schema for their operation and status, successes and failures", async () => {
    const document = await servedDocument();
    const schemas = documentSchemas(document);
    const { call, seen } = caller(schemas);
    const password = "the password of openapi tests";
    const register = async (prefix: string) => {
      const res = await call("auth.register", { body: { username: api.username(prefix), password, displayName: prefix, device: "tests" } });
      expect(res.status).toBe(201);
      return res.body as { user: { id: string; username: string }; accessToken: string; refreshToken: string; sessionId: string };
    };

    const alice = await register("alice");
    const bob = await register("bob");
    const carol = await register("carol");
    const token = alice.accessToken;

    // Auth and sessions.
    const login = await call("auth.login", { body: { username: alice.user.username, password, device: "second" } });
    expect(login.status).toBe(200);
    expect((await call("auth.refresh", { body: { refreshToken: login.body.refreshToken } })).status).toBe(200);
    const sessions = await call("sessions.list", { token });
    expect(sessions.body.sessions.length).toBe(2);
    expect((await call("sessions.revoke", { token, params: { id: login.body.sessionId } })).status).toBe(204);

    // Users, account, blocks.
    expect((await call("users.me", { token })).body.user.id).toBe(alice.user.id);
    expect((await call("users.search", { token, query: { q: "bob", limit: "5" } })).body.users.length).toBeGreaterThan(0);
    expect((await call("users.get", { token, params: { id: bob.user.id } })).status).toBe(200);
    expect((await call("account.update", { token, body: { displayName: "Alice", avatarUrl: "https://example.com/a.png" } })).body.user.avatarUrl).toBe(
      "https://example.com/a.png",
    );
    expect((await call("blocks.add", { token, body: { userId: carol.user.id } })).status).toBe(200);
    expect((await call("blocks.list", { token })).body.blocks.length).toBe(1);
    expect((await call("blocks.remove", { token, params: { userId: carol.user.id } })).status).toBe(204);

    // Conversations, members, messages.
    const direct = await call("conversations.create", { token, body: { type: "direct", userId: bob.user.id } });
    expect(direct.status).toBe(201);
    expect((await call("conversations.create", { token: bob.accessToken, body: { type: "direct", userId: alice.user.id } })).status).toBe(200);
    const group = await call("conversations.create", { token, body: { type: "group", name: "g", memberIds: [bob.user.id] } });
    const groupId: string = group.body.conversation.id;
    expect((await call("members.add", { token, params: { id: groupId }, body: { userIds: [carol.user.id] } })).status).toBe(200);
    expect((await call("members.remove", { token, params: { id: groupId, userId: carol.user.id } })).status).toBe(200);
    const posted = await call("messages.post", { token, params: { id: groupId }, body: { clientMsgId: "m-1", content: "hello 👋", type: "text" } });
    expect(posted.status).toBe(201);
    expect((await call("messages.post", { token, params: { id: groupId }, body: { clientMsgId: "m-1", content: "hello 👋" } })).status).toBe(200);
    await call("messages.post", { token, params: { id: groupId }, body: { clientMsgId: "m-2", content: "a reply", replyToId: posted.body.message.id } });
    // An attachment: started, uploaded straight to the store, sent, downloaded.
    const started = await call("attachments.create", { token, params: { id: groupId }, body: { name: "notes.txt", size: 5, contentType: "text/plain" } });
    expect(started.status).toBe(201);
    const { upload, attachment } = started.body;
    expect((await fetch(upload.url, { method: upload.method, headers: upload.headers, body: "hello" })).status).toBe(200);
    const withFile = await call("messages.post", { token, params: { id: groupId }, body: { clientMsgId: "m-3", attachmentIds: [attachment.id] } });
    expect(withFile.body.message.attachments).toEqual([{ ...attachment, contentType: "text/plain", kind: "file" }]);
    const link = await call("attachments.get", { token: bob.accessToken, params: { id: attachment.id }, query: { redirect: "false" } });
    expect(await (await fetch(link.body.url)).text()).toBe("hello");
    expect((await call("attachments.get", { token: carol.accessToken, params: { id: attachment.id }, query: { redirect: "false" } })).status).toBe(404);
    expect((await call("attachments.create", { token, params: { id: groupId }, body: { name: "big.bin", size: 10 ** 9, contentType: "application/zip" } })).status).toBe(400);

    expect((await call("messages.history", { token, params: { id: groupId }, query: { limit: "1" } })).body.nextBefore).toBe(3);
    expect((await call("messages.history", { token, params: { id: groupId } })).body.messages.length).toBe(3);
    expect((await call("conversations.list", { token })).body.conversations.length).toBe(2);
    expect((await call("conversations.get", { token, params: { id: groupId } })).body.conversation.lastSeq).toBeGreaterThanOrEqual(0);
    expect((await call("account.export", { token })).body.user.id).toBe(alice.user.id);
    expect((await call("calls.iceServers", { token })).body.iceServers).toEqual([]);

    // One failure of each status class, as the document says they look.
    const invalid = await call("messages.post", { token, params: { id: groupId }, body: { clientMsgId: "m-4", content: "   " } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["content"]);
    expect((await call("users.get", { token, params: { id: "not-an-id" } })).status).toBe(400);
    expect((await call("users.search", { token, query: { q: "b", limit: "500" } })).status).toBe(400);
    expect((await call("users.me", {})).body.error.code).toBe("AUTH_REQUIRED");
    expect((await call("users.me", { token: "not.a.token" })).body.error.code).toBe("INVALID_TOKEN");
    expect((await call("auth.login", { body: { username: alice.user.username, password: "wrong password" } })).status).toBe(401);
    expect((await call("conversations.get", { token: carol.accessToken, params: { id: groupId } })).status).toBe(403);
    expect((await call("messages.history", { token: carol.accessToken, params: { id: groupId } })).status).toBe(403);
    expect((await call("users.get", { token, params: { id: "0123456789abcdef01234567" } })).status).toBe(404);
    expect((await call("conversations.get", { token, params: { id: "0123456789abcdef01234567" } })).status).toBe(404);
    expect((await call("auth.register", { body: { username: bob.user.username, password } })).status).toBe(409);
    expect((await call("members.remove", { token: bob.accessToken, params: { id: direct.body.conversation.id, userId: alice.user.id } })).status).toBe(403);

    // The end of sessions and accounts.
    const dave = await register("dave");
    expect((await call("account.changePassword", { token: dave.accessToken, body: { currentPassword: password, newPassword: "a new password" } })).status).toBe(204);
    expect((await call("account.delete", { token: dave.accessToken, body: { password: "a new password" } })).status).toBe(204);
    const erin = await register("erin");
    expect((await call("account.delete", { token: erin.accessToken, query: { erase: "true" }, body: { password } })).status).toBe(202);
    expect((await call("auth.logout", { token: bob.accessToken })).status).toBe(204);
    expect((await call("auth.logoutAll", { token })).status).toBe(204);
    expect((await call("users.me", { token })).body.error.code).toBe("SESSION_REVOKED");

    // Every operation answered at least one success; every status class was seen.
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods).map((o) => o.operationId));
    for (const id of operations) expect([...(seen.get(id) ?? [])].some((status) => status < 300), id).toBe(true);
    const statuses = new Set([...seen.values()].flatMap((s) => [...s]));
    for (const status of [200, 201, 202, 204, 400, 401, 403, 404, 409]) expect(statuses, String(status)).toContain(status);
  });
});
