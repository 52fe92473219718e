/**
 * A gateway's graceful drain, with two gateways in this process on one real Redis and FerretDB: new
 * sessions are refused with 503 (a proxy retries them elsewhere), open sockets are closed so that their
 * clients reconnect, and a user who reconnects to the other gateway never appears offline.
 */
import { request } from "node:http";

import type { Connection } from "mongoose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";

import { closeAllClients, connectClient, type ClientSocket, type PresenceUpdate } from "../../../test/helpers/clients.js";
import { testMongoUrl } from "../../../test/helpers/env.js";
import { collect, eventually } from "../../../test/helpers/events.js";
import { openModels, startGatewayNode, type GatewayNode } from "../../../test/helpers/in-process-gateway.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { seedConversation, seedUser } from "../../../test/helpers/seed.js";

const redis = useRedisServer("gateway-drain");
let connection: Connection;
let models: Models;
let staying: GatewayNode;

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("gateway-drain")));
  staying = await startGatewayNode("staying", redis.url, models);
});

afterEach(() => closeAllClients());

afterAll(async () => {
  await staying?.close();
  await connection?.close();
});

/** The status of a new polling session's first request, or of a WebSocket upgrade without a session. */
function newSessionStatus(url: string, transport: "polling" | "websocket"): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> =
      transport === "websocket"
        ? { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" }
        : {};
    const req = request(`${url}/socket.io/?EIO=4&transport=${transport}`, { headers });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("a draining gateway", () => {
  it("refuses new sessions with 503, closes its sockets, and its users never appear offline", async () => {
    const leaving = await startGatewayNode("leaving", redis.url, models);
    const mover = await seedUser(models, "mover");
    const watcher = await seedUser(models, "watcher");
    await seedConversation(models, [mover, watcher]);
    expect(await newSessionStatus(leaving.url, "polling")).toBe(200);

    const w = await connectClient(staying.url, watcher.token);
    const updates = collect<PresenceUpdate>(w.socket, "presence:update");
    const m = await connectClient(leaving.url, mover.token);
    await eventually(() => updates.some((u) => u.userId === mover.id && u.status === "online"), 5_000, "mover online");

    // When its gateway closes the connection, the client reconnects: to the other gateway, as a proxy would send it.
    let moved: ClientSocket | undefined;
    m.socket.on("disconnect", (reason) => {
      expect(reason).toBe("transport close");
      void connectClient(staying.url, mover.token).then((client) => (moved = client.socket));
    });
    const closing = leaving.close();
    await eventually(async () => (await newSessionStatus(leaving.url, "polling")) === 503, 2_000, "polling refused");
    expect(await newSessionStatus(leaving.url, "websocket")).toBe(503);
    await eventually(() => moved?.connected, 5_000, "reconnected to the other gateway");
    await closing;

    const query = await w.socket.timeout(5_000).emitWithAck("presence:query", { userIds: [mover.id] });
    expect(query).toMatchObject({ ok: true, presence: { [mover.id]: { status: "online" } } });
    expect(updates.filter((u) => u.userId === mover.id).map((u) => u.status)).toEqual(["online"]);
  });
});
