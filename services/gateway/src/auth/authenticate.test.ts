/**
 * The handshake middleware on a bare Socket.IO server with stand-in features, so that what a feature's
 * step throws (a real ioredis error of an unreachable Redis, a bug) and a step that never ends can be
 * chosen: each refusal's `connect_error` code, and that the deadline answers before Socket.IO's own
 * connect timeout closes the connection.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { Redis } from "ioredis";
import type { Connection } from "mongoose";
import { pino } from "pino";
import { Server } from "socket.io";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { Models } from "@parley/shared/models";

import { freePort } from "../../../../scripts/lib/ports.js";
import { closeAllClients, connectError } from "../../../../test/helpers/clients.js";
import { TEST_JWT_SECRET, testMongoUrl } from "../../../../test/helpers/env.js";
import { openModels } from "../../../../test/helpers/in-process-gateway.js";
import { seedUser } from "../../../../test/helpers/seed.js";
import type { GatewayFeature } from "../lib/feature.js";
import type { GatewayServer } from "../lib/types.js";
import { handshake } from "./authenticate.js";

const log = pino({ level: "silent" });
const DEADLINE_MS = 500;
let connection: Connection;
let models: Models;
let redisError: unknown;
const servers: GatewayServer[] = [];

beforeAll(async () => {
  ({ connection, models } = await openModels(testMongoUrl("handshake")));
  const unreachable = new Redis(await freePort(), "127.0.0.1", { maxRetriesPerRequest: 0 });
  unreachable.on("error", () => {});
  redisError = await unreachable.get("k").catch((err: unknown) => err);
  unreachable.disconnect();
});
afterEach(() => closeAllClients());
afterAll(async () => {
  for (const io of servers) await new Promise<void>((resolve) => io.close(() => resolve()));
  await connection?.close();
});

/** A Socket.IO server whose handshake runs `step` as its only feature's; its URL. */
async function serverWith(step: GatewayFeature["handshake"]): Promise<string> {
  const httpServer = createServer();
  const io: GatewayServer = new Server(httpServer, { connectTimeout: DEADLINE_MS * 4 });
  io.use(handshake([{ handshake: step }], { secret: TEST_JWT_SECRET, models, log, deadlineMs: DEADLINE_MS }));
  servers.push(io);
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
}

describe("a handshake step that fails", () => {
  it.each([
    ["with the error of an unreachable Redis", () => redisError, "UNAVAILABLE", "Service temporarily unavailable, retry shortly"],
    ["with the same error wrapped", () => new Error("admission failed", { cause: redisError }), "UNAVAILABLE", "Service temporarily unavailable, retry shortly"],
    ["with a bug", () => new TypeError("cannot read properties of undefined"), "INTERNAL", "Internal error"],
  ])("%s is refused with its wire code and a fixed message", async (_, error, code, message) => {
    expect(redisError).toMatchObject({ name: "MaxRetriesPerRequestError" });
    const url = await serverWith(async () => {
      throw error();
    });
    const user = await seedUser(models);
    const err = await connectError(url, { token: user.token });
    expect(err.data?.code).toBe(code);
    expect(err.message).toBe(message);
  });

  it("is refused UNAVAILABLE at the deadline when it never ends, well before the connect timeout", async () => {
    const url = await serverWith(() => new Promise<void>(() => {}));
    const user = await seedUser(models);
    const started = performance.now();
    const err = await connectError(url, { token: user.token });
    expect(err.data?.code).toBe("UNAVAILABLE");
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS * 3);
  });

  it("does not run at all for a refused token or protocol", async () => {
    let ran = 0;
    const url = await serverWith(async () => {
      ran++;
    });
    expect((await connectError(url, { token: "not-a-jwt" })).data?.code).toBe("INVALID_TOKEN");
    expect((await connectError(url, { token: (await seedUser(models)).token, protocol: "2.0" })).data?.code).toBe("UNSUPPORTED_PROTOCOL");
    expect(ran).toBe(0);
  });
});
