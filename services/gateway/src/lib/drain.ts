/**
 * Graceful drain of a gateway: refuse new Engine.IO sessions with 503 (a proxy retries them on another
 * gateway), then close the sockets a few at a time. Closing the Engine.IO connection, not the Socket.IO
 * session, is what makes clients reconnect by themselves, through the proxy, to the other gateways.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";

import type { GatewayServer } from "./types.js";

const REFUSAL = JSON.stringify({ error: { code: "UNAVAILABLE", message: "This gateway is shutting down; retry" } });

/** A request that would open a new Engine.IO session: a Socket.IO path without `sid`. */
function opensSession(req: IncomingMessage): boolean {
  if (!req.url?.startsWith("/socket.io/")) return false;
  return !new URL(req.url, "http://gateway").searchParams.has("sid");
}

/**
 * While `refusing()` holds, answers every request that would open a new session with 503 before
 * Engine.IO sees it; requests of existing sessions go on normally. Call after Socket.IO attached to
 * `httpServer`: it wraps the listeners attached so far.
 */
export function refuseNewSessionsWhile(httpServer: HttpServer, refusing: () => boolean): void {
  const requestListeners = httpServer.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  httpServer.removeAllListeners("request");
  httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (refusing() && opensSession(req)) {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1", connection: "close" });
      res.end(REFUSAL);
      return;
    }
    for (const listener of requestListeners) listener.call(httpServer, req, res);
  });

  const upgradeListeners = httpServer.listeners("upgrade") as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  httpServer.removeAllListeners("upgrade");
  httpServer.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (refusing() && opensSession(req)) {
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(REFUSAL)}\r\n\r\n${REFUSAL}`,
      );
      return;
    }
    for (const listener of upgradeListeners) listener.call(httpServer, req, socket, head);
  });
}

/** How long clients get to reconnect elsewhere once their sockets are closed (socket.io-client's first retry comes within 1.5 s). */
export const RECONNECT_SETTLE_MS = 2_000;

/**
 * Closes every socket of `io` at the Engine.IO level, spread over at most `spreadMs` (5 ms per socket
 * below that), so that the other gateways are not hit by every reconnection at once. Resolves with the
 * number of sockets closed.
 */
export async function closeSocketsGradually(io: GatewayServer, spreadMs: number): Promise<number> {
  const sockets = [...io.of("/").sockets.values()];
  if (sockets.length === 0) return 0;
  const batches = Math.min(sockets.length, 20);
  const pause = Math.min(spreadMs, sockets.length * 5) / batches;
  const size = Math.ceil(sockets.length / batches);
  for (let i = 0; i < sockets.length; i += size) {
    for (const socket of sockets.slice(i, i + size)) socket.conn.close();
    if (i + size < sockets.length) await delay(pause);
  }
  return sockets.length;
}
