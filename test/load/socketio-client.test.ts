/**
 * The load tests' Socket.IO client (load-tests/lib/socketio.js) in the real k6, against a real
 * Socket.IO server, behind a WebSocket proxy that drops the server's first frame, the Engine.IO open
 * packet. k6 v2.2.0 sometimes loses exactly that frame (it reads a connection before it dispatches
 * `open`); the client must connect all the same.
 */
import { createServer } from "node:http";
import { join } from "node:path";

import { Server } from "socket.io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";

import { runK6 } from "../../scripts/bench/k6.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { freePort } from "../../scripts/lib/ports.js";
import { testDir } from "../helpers/env.js";

const TOKEN = "k6-token";

/** A proxy of `upstream`'s WebSockets that swallows the first frame the server sends on each. */
async function frameDroppingProxy(upstream: string) {
  const port = await freePort();
  const wss = new WebSocketServer({ port, host: "127.0.0.1" });
  let dropped = 0;
  wss.on("connection", (client, request) => {
    const server = new WebSocket(`${upstream}${request.url ?? "/"}`);
    const pending: string[] = [];
    let first = true;
    server.on("open", () => pending.splice(0).forEach((text) => server.send(text)));
    server.on("message", (data) => {
      if (first) {
        first = false;
        dropped++;
        return;
      }
      client.send(data.toString());
    });
    client.on("message", (data) => {
      if (server.readyState === WebSocket.OPEN) server.send(data.toString());
      else pending.push(data.toString());
    });
    const closeBoth = () => {
      client.close();
      server.close();
    };
    server.on("close", closeBoth);
    client.on("close", closeBoth);
    server.on("error", closeBoth);
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  return { url: `http://127.0.0.1:${port}`, dropped: () => dropped, close: () => new Promise((resolve) => wss.close(resolve)) };
}

describe("the k6 Socket.IO client", { timeout: 60_000 }, () => {
  const httpServer = createServer();
  const io = new Server(httpServer, { transports: ["websocket"] });
  let proxy: Awaited<ReturnType<typeof frameDroppingProxy>>;

  beforeAll(async () => {
    io.use((socket, next) => next((socket.handshake.auth as { token?: string }).token === TOKEN ? undefined : new Error("bad token")));
    io.on("connection", (socket) => socket.emit("hello", "k6"));
    const port = await freePort();
    await new Promise<void>((resolve) => httpServer.listen(port, "127.0.0.1", resolve));
    proxy = await frameDroppingProxy(`ws://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    await proxy.close();
    await io.close();
  });

  it("connects when the server's Engine.IO open packet never arrives", async () => {
    const dir = testDir("k6-socketio-client");
    const sockets = 5;
    const { exitCode, summary } = await runK6({
      scenario: join(ROOT, "test/load/fixtures/socketio-connect.js"),
      env: { SOCKET_URL: proxy.url, TOKEN, SOCKETS: String(sockets) },
      summaryFile: join(dir, "summary.json"),
      logFile: join(dir, "k6.log"),
    }).done;
    expect(proxy.dropped()).toBe(sockets);
    expect(summary.raw.hellos?.count).toBe(sockets);
    expect(exitCode).toBe(0);
  });
});
