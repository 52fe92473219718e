/**
 * The edge of a real cluster: nginx in front of two gateway processes, the API and the worker. nginx runs
 * with small per-address limits (below) so that one test client, on 127.0.0.1 like every local client,
 * reaches them in a few connections; the gateways close a connection that does not complete the
 * Socket.IO connect within a second.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";

import type { NginxLimits } from "../../scripts/lib/nginx.js";
import { useCluster } from "../helpers/cluster.js";
import { nextEvent } from "../helpers/events.js";
import { seedUser } from "../helpers/seed.js";

const LIMITS = { connections: 80, sockets: 60, auth: { rate: "1r/m", burst: 5 } } as const satisfies Partial<NginxLimits>;
const CONNECT_TIMEOUT_MS = 1_000;

const fixture = useCluster("edge", { nginxLimits: LIMITS, envFor: { gateway: { CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) } } });

const opened = new Set<WebSocket>();
afterEach(async () => {
  const closing = [...opened].filter((ws) => ws.readyState !== WebSocket.CLOSED).map((ws) => nextEvent(ws, "close"));
  for (const ws of opened) ws.terminate();
  opened.clear();
  await Promise.all(closing);
});

const websocketUrl = () => `${fixture.cluster.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;

/** A raw WebSocket to Socket.IO through nginx, open with the Engine.IO `open` packet read; or the refusal's status. */
async function openRawSocket(headers: Record<string, string> = {}): Promise<WebSocket | number> {
  const ws = new WebSocket(websocketUrl(), { headers });
  opened.add(ws);
  return new Promise((resolve, reject) => {
    ws.once("message", (data) => (String(data).startsWith('0{"sid":') ? resolve(ws) : reject(new Error(`unexpected first packet ${String(data)}`))));
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("error", reject);
  });
}

function open(result: WebSocket | number): WebSocket {
  if (typeof result === "number") throw new Error(`WebSocket refused with ${result}`);
  return result;
}

describe("the edge through nginx", () => {
  it("refuses a WebSocket from a foreign origin, and serves the API with its security headers but no HSTS over http", async () => {
    expect(await openRawSocket({ origin: "https://evil.example" })).toBe(403);
    // The client's own claim of https is not passed on: nginx says what it saw.
    const res = await fetch(`${fixture.cluster.url}/api/nope`, { headers: { "x-forwarded-proto": "https" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("strict-transport-security")).toBeNull();
  });

  it("serves the OpenAPI document, cacheable, and the reference page with its files, from the API", async () => {
    const document = await fetch(`${fixture.cluster.url}/api/openapi.json`);
    expect(document.status).toBe(200);
    expect(document.headers.get("cache-control")).toBe("public, max-age=300");
    const body = (await document.json()) as { openapi: string; servers: { url: string }[] };
    expect(body.openapi).toMatch(/^3\.1\./);
    expect(body.servers).toEqual([{ url: `http://localhost:${new URL(fixture.cluster.url).port}` }]);
    const page = await fetch(`${fixture.cluster.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    for (const file of ["/api/docs/init.js", "/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css"]) {
      expect((await fetch(`${fixture.cluster.url}${file}`)).status, file).toBe(200);
    }
  });
});

describe("connections that never complete the Socket.IO connect", () => {
  it("are closed by the gateways, fifty at once through nginx", { timeout: 30_000 }, async () => {
    const sockets = (await Promise.all(Array.from({ length: 50 }, () => openRawSocket()))).map(open);
    await Promise.all(sockets.map((ws) => nextEvent(ws, "close", CONNECT_TIMEOUT_MS * 15)));
    expect(sockets.every((ws) => ws.readyState === WebSocket.CLOSED)).toBe(true);
  });
});

// The Socket.IO limit comes last: the sockets it holds are closed by the client, which nginx may count a moment longer.
describe("per-address limits in nginx", () => {
  it("refuses a burst of /api/auth/ requests beyond the rate of one address with 429, before the API", async () => {
    const login = (i: number) =>
      fetch(`${fixture.cluster.url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${i}` },
        body: JSON.stringify({ username: `nobody_${i}`, password: "not the password" }),
      });
    // One request, then the burst, pass to the API (no such user: 401 from the API, with its request id).
    for (let i = 0; i <= LIMITS.auth.burst; i++) {
      const res = await login(i);
      expect(res.status, `request ${i}`).toBe(401);
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
    const refused = await login(LIMITS.auth.burst + 1);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-request-id")).toBeNull();
    expect(await refused.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Only /api/auth/ has that rate: the rest of the API still answers.
    expect((await fetch(`${fixture.cluster.url}/api/nope`)).status).toBe(404);
  });

  it("refuses a Socket.IO connection beyond the limit of one address with 429", { timeout: 60_000 }, async () => {
    const models = await fixture.models();
    const users = await Promise.all(Array.from({ length: LIMITS.sockets }, () => seedUser(models, "edge")));
    // Connected sockets, so that the gateways keep them open.
    await Promise.all(
      users.map(async (user) => {
        const ws = open(await openRawSocket());
        const accepted = nextEvent<Buffer>(ws, "message", 15_000);
        ws.send(`40${JSON.stringify({ token: user.token })}`);
        expect(String(await accepted)).toMatch(/^40\{"sid":/);
      }),
    );
    // A forged forwarding header does not make nginx count another address: it trusts no proxy.
    expect(await openRawSocket({ "x-forwarded-for": "203.0.113.7" })).toBe(429);
    expect(await openRawSocket()).toBe(429);

    const polling = await fetch(`${fixture.cluster.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(429);
    expect(polling.headers.get("retry-after")).toBe("1");
    expect(await polling.json()).toEqual({ error: { code: "RATE_LIMITED", message: "Too many requests from this address", retryAfterMs: 1000 } });
    // The API is not part of the Socket.IO limit.
    expect((await fetch(`${fixture.cluster.url}/readyz`)).status).toBe(200);
  });
});
