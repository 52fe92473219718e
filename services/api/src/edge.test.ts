/**
 * The API's edge: security headers on every answer whatever its status, HSTS only behind TLS as a
 * trusted proxy reports it, and CORS for the allowed origins only. Real HTTP against the in-process API.
 */
import { describe, expect, it } from "vitest";

import { Health } from "@parley/shared/lifecycle";
import type { Models } from "@parley/shared/models";

import { HSTS_MAX_AGE_SECONDS } from "./http/security-headers.js";
import { useApi, type TestResponse } from "./testing/api-harness.js";

const api = useApi("edge");

/** The headers every answer of the API carries. */
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none';frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

function expectSecurityHeaders(res: TestResponse, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
  expect(res.headers.get("strict-transport-security"), `${what}: HSTS over plain HTTP`).toBeNull();
  expect(res.headers.get("x-powered-by"), what).toBeNull();
}

/** A variant whose models throw on first use, so that any request touching users fails with 500. */
function failingModels(): Models {
  const failing = () => {
    throw new Error("driver failure");
  };
  return new Proxy(api.models, {
    get: (target, prop) => (prop === "User" ? new Proxy(target.User, { get: failing }) : target[prop as keyof Models]),
  });
}

describe("security headers", () => {
  it("are on every answer: health, success, client errors, 404 and 500", async () => {
    const user = await api.registerUser();
    const draining = new Health({});
    draining.startDraining();
    const unready = await api.startVariant({ health: draining });
    const failing = await api.startVariant({ models: failingModels() });
    const cases: [string, number, Promise<TestResponse>][] = [
      ["GET /healthz", 200, api.request("GET", "/healthz")],
      ["GET /readyz", 200, api.request("GET", "/readyz")],
      ["GET /readyz while draining", 503, api.request("GET", `${unready.baseUrl}/readyz`)],
      ["GET /api/users/me", 200, api.request("GET", "/api/users/me", { token: user.token })],
      ["GET /api/openapi.json", 200, api.request("GET", "/api/openapi.json")],
      ["POST /api/auth/register", 201, api.request("POST", "/api/auth/register", { body: { username: api.username(), password: "correct horse battery" } })],
      ["malformed JSON", 400, api.request("POST", "/api/auth/login", { rawBody: "{nope" })],
      ["no token", 401, api.request("GET", "/api/users/me")],
      ["unknown route outside /api", 404, api.request("GET", "/nope")],
      ["unknown route inside /api", 404, api.request("DELETE", "/api/nope")],
      ["body over the limit", 413, api.request("POST", "/api/auth/register", { body: { username: "big", password: "x".repeat(api.config.BODY_LIMIT_BYTES) } })],
      ["failing database", 500, api.request("POST", `${failing.baseUrl}/api/auth/login`, { body: { username: "abc", password: "whatever1" } })],
    ];
    for (const [what, status, answer] of cases) {
      const res = await answer;
      expect(res.status, what).toBe(status);
      expectSecurityHeaders(res, what);
    }
  });

  it("add HSTS when a trusted proxy says the request came over HTTPS, and only then", async () => {
    const secure = await api.request("GET", "/api/nope", { headers: { "x-forwarded-proto": "https" } });
    expect(secure.status).toBe(404);
    expect(secure.headers.get("strict-transport-security")).toBe(`max-age=${HSTS_MAX_AGE_SECONDS}`);
    expect((await api.request("GET", "/healthz", { headers: { "x-forwarded-proto": "https" } })).headers.get("strict-transport-security")).toBe(
      `max-age=${HSTS_MAX_AGE_SECONDS}`,
    );

    for (const proto of [undefined, "http"]) {
      const res = await api.request("GET", "/healthz", { headers: proto ? { "x-forwarded-proto": proto } : {} });
      expect(res.headers.get("strict-transport-security"), `X-Forwarded-Proto ${proto}`).toBeNull();
    }
    // The harness calls from 127.0.0.1; a deployment that trusts no proxy ignores the header.
    const untrusting = await api.startVariant({ config: { ...api.config, TRUST_PROXY: false } });
    const forged = await api.request("GET", `${untrusting.baseUrl}/healthz`, { headers: { "x-forwarded-proto": "https" } });
    expect(forged.headers.get("strict-transport-security")).toBeNull();
  });
});

describe("CORS", () => {
  const preflight = (baseUrl: string, origin: string) =>
    api.request("OPTIONS", `${baseUrl}/api/conversations`, {
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
  const CORS_HEADERS = [
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
  ];

  it("answers a preflight from the public origin (the default) with what the web app needs", async () => {
    expect(api.config.PUBLIC_URL).toBe("http://localhost:8080");
    const res = await preflight(api.baseUrl, "http://localhost:8080");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:8080");
    expect(res.headers.get("access-control-allow-methods")?.split(",")).toEqual(expect.arrayContaining(["GET", "POST", "DELETE"]));
    expect(res.headers.get("access-control-allow-headers")).toBe("Authorization,Content-Type");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toMatch(/\bOrigin\b/);
    expectSecurityHeaders(res, "preflight");
  });

  it("lets the allowed origins read answers and the headers they need, and no one else", async () => {
    const variant = await api.startVariant({ config: { ...api.config, CORS_ORIGINS: ["https://chat.example.com", "http://localhost:5173"] } });
    for (const origin of ["https://chat.example.com", "http://localhost:5173"]) {
      expect((await preflight(variant.baseUrl, origin)).headers.get("access-control-allow-origin"), origin).toBe(origin);
      const res = await api.request("POST", `${variant.baseUrl}/api/auth/login`, { headers: { origin }, body: { username: "nobody-here", password: "whatever1" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("access-control-expose-headers")).toBe("Retry-After,x-request-id");
    }

    for (const origin of ["http://localhost:8080", "https://evil.example", "https://chat.example.com.evil.example", "null"]) {
      const res = await preflight(variant.baseUrl, origin);
      expect(res.status, origin).not.toBe(204);
      for (const name of CORS_HEADERS) expect(res.headers.get(name), `${origin}: ${name}`).toBeNull();
      const simple = await api.request("GET", `${variant.baseUrl}/healthz`, { headers: { origin } });
      expect(simple.status).toBe(200);
      for (const name of CORS_HEADERS) expect(simple.headers.get(name), `${origin}: ${name}`).toBeNull();
      expect(simple.headers.get("vary")).toMatch(/\bOrigin\b/);
    }

    // Requests without Origin (native apps, servers) are left as they were.
    const plain = await api.request("GET", `${variant.baseUrl}/healthz`);
    expect(plain.status).toBe(200);
    for (const name of CORS_HEADERS) expect(plain.headers.get(name), name).toBeNull();
    expect(plain.headers.get("vary")).toBeNull();
  });
});
