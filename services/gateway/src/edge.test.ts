/**
 * The gateway's edge, on one in-process gateway with a list of allowed origins and a short connect
 * timeout: foreign origins are refused on both transports, allowed ones and origin-less clients
 * connect, and a connection that never completes the Socket.IO connect is closed.
 */
import type { Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { allowedOrigins, loadConfig } from "@parley/shared/config";
import type { Models } from "@parley/shared/models";

import { closeAllClients, connectClient, connectError } from "../../../test/helpers/clients.js";
import { TEST_JWT_SECRET, testMongoUrl } from "../../../test/helpers/env.js";
import { nextEvent } from "../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { seedUser } from "../../../test/helpers/seed.js";
import { gatewayConfigSchema } from "./config.js";

const ALLOWED = ["https://chat.example.com", "http://localhost:5173"];
const FOREIGN = ["https://evil.example", "https://chat.example.com.evil.example", "http://localhost:8080", "null"];
const CONNECT_TIMEOUT_MS = 500;

const redis = useRedisServer("gateway-edge");
let connection: Connection;
let models: Models;
let node: GatewayNode;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("gateway_edge")));
  node = await startGatewayNode("edge", redis.url, models, { ALLOWED_ORIGINS: ALLOWED.join(","), CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) });
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await node?.close();
  await connection?.close();
});

const pollingUrl = () => `${node.url}/socket.io/?EIO=4&transport=polling`;
const websocketUrl = () => `${node.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;

/** The status a WebSocket handshake is answered with: 101 when it opens, else the refusal's. */
function upgradeStatus(origin?: string): Promise<number> {
  const ws = new WebSocket(websocketUrl(), origin === undefined ? {} : { origin });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

/** A raw WebSocket to Socket.IO, open, with the Engine.IO `open` packet read. */
async function openRawSocket(url = websocketUrl()): Promise<WebSocket> {
  const ws = new WebSocket(url);
  const [open] = await Promise.all([nextEvent<Buffer>(ws, "message"), nextEvent(ws, "open")]);
  expect(String(open)).toMatch(/^0\{"sid":/);
  return ws;
}

describe("origins", () => {
  it("default to the public origin alone, with a connect timeout of 5 s", () => {
    const config = loadConfig(gatewayConfigSchema, { JWT_SECRET: TEST_JWT_SECRET });
    expect([...allowedOrigins(config.ALLOWED_ORIGINS, config.PUBLIC_URL)]).toEqual(["http://localhost:8080"]);
    expect(config.CONNECT_TIMEOUT_MS).toBe(5_000);
    const custom = loadConfig(gatewayConfigSchema, { JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL: "https://chat.example.com", ALLOWED_ORIGINS: ALLOWED.join(",") });
    expect([...allowedOrigins(custom.ALLOWED_ORIGINS, custom.PUBLIC_URL)]).toEqual(ALLOWED);
  });

  it("refuses a long-polling handshake from a foreign origin with 403", async () => {
    for (const origin of FOREIGN) {
      const res = await fetch(pollingUrl(), { headers: { origin } });
      expect(res.status, origin).toBe(403);
      expect(await res.json()).toEqual({ error: { code: "FORBIDDEN", message: "Origin not allowed" } });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    }
    const preflight = await fetch(pollingUrl(), { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
  });

  it("refuses a WebSocket handshake from a foreign origin with 403", async () => {
    for (const origin of FOREIGN) expect(await upgradeStatus(origin), origin).toBe(403);
  });

  it("opens long-polling sessions cross-origin for the allowed origins, with the affinity cookie allowed", async () => {
    for (const origin of ALLOWED) {
      const preflight = await fetch(pollingUrl(), { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
      expect(preflight.status, origin).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
      expect(preflight.headers.get("access-control-allow-methods")).toBe("GET,POST");

      const handshake = await fetch(pollingUrl(), { headers: { origin } });
      expect(handshake.status, origin).toBe(200);
      expect(await handshake.text()).toMatch(/^0\{"sid":/);
      expect(handshake.headers.get("access-control-allow-origin")).toBe(origin);
      expect(handshake.headers.get("access-control-allow-credentials")).toBe("true");
    }
  });

  it("connects Socket.IO clients from an allowed origin on both transports, and clients without Origin", async () => {
    const user = await seedUser(models);
    for (const transports of [["websocket"], ["polling"]]) {
      const fromWebApp = await connectClient(node.url, user.token, { transports, extraHeaders: { origin: ALLOWED[0]! } });
      expect(fromWebApp.session.node, transports[0]).toBe("edge");
      const native = await connectClient(node.url, user.token, { transports });
      expect(native.session.node, transports[0]).toBe("edge");
      // The same client with a foreign Origin fails: the header really is sent.
      const refused = await connectError(node.url, { token: user.token }, { transports, extraHeaders: { origin: FOREIGN[0]! } });
      expect(refused.message, transports[0]).toMatch(/error/);
    }
    expect(await upgradeStatus(ALLOWED[1])).toBe(101);
    expect(await upgradeStatus()).toBe(101);
  });
});

describe("a connection that never completes the Socket.IO connect", () => {
  it("is closed by the gateway after CONNECT_TIMEOUT_MS, while a connected one stays", { timeout: 10_000 }, async () => {
    const user = await seedUser(models);
    // Connected first, so its connect timer would have fired before the idle socket's does.
    const connected = await openRawSocket();
    const accepted = nextEvent<Buffer>(connected, "message");
    connected.send(`40${JSON.stringify({ token: user.token })}`);
    expect(String(await accepted)).toMatch(/^40\{"sid":/);

    const idle = await openRawSocket();
    await nextEvent(idle, "close", CONNECT_TIMEOUT_MS * 10);
    expect(connected.readyState).toBe(WebSocket.OPEN);
    const closed = nextEvent(connected, "close");
    connected.close();
    await closed;
  });

  it("is closed on long-polling too", { timeout: 10_000 }, async () => {
    const handshake = await fetch(pollingUrl());
    const { sid } = JSON.parse((await handshake.text()).slice(1)) as { sid: string };
    // The next poll is held until the session ends: the gateway answers it with a close packet.
    const poll = await fetch(`${pollingUrl()}&sid=${encodeURIComponent(sid)}`);
    expect(await poll.text()).toBe("1");
  });
});
