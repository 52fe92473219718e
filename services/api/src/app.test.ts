import { describe, expect, it } from "vitest";

import { connectMongo, Health } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createModels, type Models } from "@parley/shared/models";

import { startFerretDb } from "../../../scripts/lib/ferretdb.js";
import { testDir } from "../../../test/helpers/env.js";
import { eventually } from "../../../test/helpers/events.js";

import { requestIdFrom } from "./http/request-id.js";
import { useApi } from "./testing/api-harness.js";

const api = useApi("app");
const silent = createLogger({ service: "api", node: "test", level: "silent" });

describe("health", () => {
  it("answers /healthz and /readyz without a token", async () => {
    const live = await api.request("GET", "/healthz");
    expect(live.status).toBe(200);
    const ready = await api.request("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, checks: { redis: "ok", mongo: "ok" } });
  });

  it("answers 503 on /readyz while draining or when a dependency fails", async () => {
    const draining = new Health({ ok: async () => {} });
    draining.startDraining();
    const failing = new Health({ mongo: async () => Promise.reject(new Error("down")) });
    for (const health of [draining, failing]) {
      const variant = await api.startVariant({ health });
      const res = await api.request("GET", `${variant.baseUrl}/readyz`);
      expect(res.status).toBe(503);
      expect((await api.request("GET", `${variant.baseUrl}/healthz`)).status).toBe(200);
    }
  });
});

describe("request ids", () => {
  it("echoes a sane x-request-id and replaces anything else", async () => {
    const kept = await api.request("GET", "/healthz", { headers: { "x-request-id": "edge-1234.abc:5" } });
    expect(kept.headers.get("x-request-id")).toBe("edge-1234.abc:5");

    const generated = await api.request("GET", "/api/nope");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const replaced = await api.request("GET", "/healthz", { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(replaced.headers.get("x-request-id")).not.toContain("bad");
  });

  it("accepts only short tokens of safe characters", () => {
    expect(requestIdFrom("abc-DEF_1.2:3")).toBe("abc-DEF_1.2:3");
    for (const bad of [undefined, "", "x".repeat(129), "a b", "a\nb", "a\"b", ["a", "b"]]) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("errors", () => {
  it("answers unknown routes with 404 NOT_FOUND, inside and outside /api", async () => {
    const user = await api.registerUser();
    for (const [path, token] of [["/nope", undefined], ["/api/nope", undefined], ["/api/users/me/extra", user.token]] as const) {
      const res = await api.request("GET", path, token ? { token } : {});
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual({ error: { code: "NOT_FOUND", message: "No such route" } });
    }
  });

  it("answers malformed JSON with 400 VALIDATION", async () => {
    const res = await api.request("POST", "/api/auth/login", { rawBody: '{"username": "a", ' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "VALIDATION", message: "Malformed JSON body" });
    expect(JSON.stringify(res.body)).not.toMatch(/Unexpected|JSON\.parse|at /);
  });

  it("answers a body over BODY_LIMIT_BYTES with 413 VALIDATION", async () => {
    const content = "x".repeat(api.config.BODY_LIMIT_BYTES + 1);
    const res = await api.request("POST", "/api/auth/register", { body: { username: "big", password: content } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("VALIDATION");
  });

  it("does not parse the body of an unauthenticated request to a protected route", async () => {
    const res = await api.request("POST", "/api/conversations", { rawBody: "{not json" });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("AUTH_REQUIRED");
  });

  it("answers an unexpected failure with 500 INTERNAL and nothing more", async () => {
    const secret = "E_DRIVER_FAILURE at mongodb://admin:hunter2@db.internal:27017";
    const failing = () => {
      throw new Error(secret);
    };
    const models = new Proxy(api.models, {
      get: (target, prop) => (prop === "User" ? new Proxy(target.User, { get: failing }) : target[prop as keyof Models]),
    });
    const variant = await api.startVariant({ models });
    const res = await api.request("POST", `${variant.baseUrl}/api/auth/login`, { body: { username: "abc", password: "whatever1" } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: "INTERNAL", message: "Internal error" } });
    expect(JSON.stringify(res.body)).not.toContain("hunter2");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers 503 UNAVAILABLE with Retry-After while its database is down, and serves again once it is back", { timeout: 60_000 }, async () => {
    // A FerretDB of this test's own, stopped under a running API: the shared one serves other files.
    const dataDir = testDir("ferretdb-api-outage");
    let ferret = await startFerretDb({ dataDir });
    const port = Number(new URL(ferret.uri).port);
    const mongo = await connectMongo(`${ferret.uri}api_outage`, silent);
    try {
      const models = createModels(mongo);
      await Promise.all(Object.values(models).map((model) => model.init()));
      const variant = await api.startVariant({ models });
      const username = api.username("outage");
      const registered = await api.request("POST", `${variant.baseUrl}/api/auth/register`, { body: { username, password: "correct horse battery" } });
      expect(registered.status).toBe(201);
      const me = () => api.request("GET", `${variant.baseUrl}/api/users/me`, { token: registered.body.accessToken });
      expect((await me()).status).toBe(200);

      await ferret.stop();
      const down = await me();
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ error: { code: "UNAVAILABLE", message: "Service temporarily unavailable, retry shortly" } });
      expect(down.headers.get("retry-after")).toBe("1");

      ferret = await startFerretDb({ dataDir, port });
      await eventually(async () => (await me()).status === 200, 30_000, "an answer once the database is back");
    } finally {
      await mongo.close();
      await ferret.stop();
    }
  });

  it("sends no x-powered-by and marks API answers uncacheable", async () => {
    const res = await api.request("POST", "/api/auth/login", { body: { username: "nobody-here", password: "whatever1" } });
    expect(res.headers.get("x-powered-by")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});
