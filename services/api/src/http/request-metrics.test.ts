/**
 * Request metrics of the API, on the in-process harness: each request is counted and timed once, by
 * method, route pattern and status, and no label value ever carries an id.
 */
import { Types } from "mongoose";
import { beforeAll, describe, expect, it } from "vitest";

import { Registry } from "@parley/shared/metrics";

import { ApiMetrics } from "../metrics.js";
import { useApi, type TestUser } from "../testing/api-harness.js";
import { UNMATCHED_ROUTE } from "./request-metrics.js";

const api = useApi("request-metrics");
let metrics: ApiMetrics;
let baseUrl: string;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  metrics = new ApiMetrics(new Registry());
  ({ baseUrl } = await api.startVariant({ metrics }));
  alice = await api.registerUser("alice");
  bob = await api.registerUser("bob");
});

const request = (method: string, path: string, options: Parameters<typeof api.request>[2] = {}) =>
  api.request(method, `${baseUrl}${path}`, options);

/** The request count with exactly these labels (0 when the series does not exist). */
async function count(method: string, route: string, status: number): Promise<number> {
  const { values } = await metrics.requests.get();
  return values.find((v) => v.labels.method === method && v.labels.route === route && v.labels.status === String(status))?.value ?? 0;
}

/** The number of durations observed with these labels. */
async function timed(method: string, route: string, status: number): Promise<number> {
  const { values } = await metrics.requestDuration.get();
  return (
    values.find(
      (v) => v.metricName?.endsWith("_count") && v.labels.method === method && v.labels.route === route && v.labels.status === String(status),
    )?.value ?? 0
  );
}

/** Runs `act` and resolves with how much the count of (method, route, status) grew. */
async function growth(method: string, route: string, status: number, act: () => Promise<{ status: number }>): Promise<number> {
  const before = await count(method, route, status);
  const res = await act();
  expect(res.status).toBe(status);
  return (await count(method, route, status)) - before;
}

describe("route label", () => {
  it("is the route pattern with its mount path, for routes with and without parameters", async () => {
    expect(await growth("GET", "/api/users/me", 200, () => request("GET", "/api/users/me", { token: alice.token }))).toBe(1);
    expect(await growth("GET", "/api/users/:id", 200, () => request("GET", `/api/users/${bob.id}`, { token: alice.token }))).toBe(1);
    expect(await growth("POST", "/api/auth/login", 401, () => request("POST", "/api/auth/login", { body: { username: alice.username, password: "wrong password!" } }))).toBe(1);
    expect(await timed("GET", "/api/users/me", 200)).toBeGreaterThanOrEqual(1);
  });

  it("keeps the pattern of the route when its handler fails and the error goes back up the routers", async () => {
    const stranger = new Types.ObjectId().toHexString();
    const route = "/api/conversations/:id/messages";
    expect(await growth("GET", route, 404, () => request("GET", `/api/conversations/${stranger}/messages`, { token: alice.token }))).toBe(1);
    expect(await growth("GET", "/api/conversations/:id", 404, () => request("GET", `/api/conversations/${stranger}`, { token: alice.token }))).toBe(1);
  });

  it("counts a message post under its route pattern, whatever the conversation", async () => {
    const direct = await request("POST", "/api/conversations", { token: alice.token, body: { type: "direct", userId: bob.id } });
    expect([200, 201]).toContain(direct.status);
    const id = direct.body.conversation.id as string;
    const post = () => request("POST", `/api/conversations/${id}/messages`, { token: alice.token, body: { clientMsgId: `c-${new Types.ObjectId().toHexString()}`, content: "hi" } });
    expect(await growth("POST", "/api/conversations/:id/messages", 201, post)).toBe(1);
  });

  it("is the mount path and /* for a request answered before it reached a route (401, 404 inside a router)", async () => {
    expect(await growth("GET", "/api/conversations/*", 401, () => request("GET", "/api/conversations"))).toBe(1);
    expect(await growth("GET", "/api/*", 404, () => request("GET", "/api/nope"))).toBe(1);
    expect(await growth("GET", "/api/users/*", 404, () => request("GET", "/api/users/me/extra", { token: alice.token }))).toBe(1);
  });

  it("is the path of a health endpoint, and a fixed label for any other unknown URL", async () => {
    expect(await growth("GET", "/healthz", 200, () => request("GET", "/healthz"))).toBe(1);
    expect(await growth("GET", "/readyz", 200, () => request("GET", "/readyz"))).toBe(1);
    expect(await growth("GET", UNMATCHED_ROUTE, 404, () => request("GET", `/nope/${new Types.ObjectId().toHexString()}?x=1`))).toBe(1);
  });

  it("never holds an id, a query string or an unknown method", async () => {
    await request("PROPFIND", `/api/users/${bob.id}`, { token: alice.token });
    const { values } = await metrics.requests.get();
    const labels = values.flatMap((v) => Object.values(v.labels).map(String));
    expect(labels.filter((value) => /[0-9a-f]{24}|\?/.test(value))).toEqual([]);
    expect(new Set(values.map((v) => v.labels.method))).not.toContain("PROPFIND");
    expect(values.some((v) => v.labels.method === "OTHER")).toBe(true);
  });
});
