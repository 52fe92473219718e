/**
 * Lets go of each connection's first HTTP request once Socket.IO has read what it needs from it.
 *
 * Engine.IO keeps that request for the whole session, twice over: as `conn.request`, and, for a
 * WebSocket, through the `close` listener that its `WebSocketResponse` (the stand-in response that
 * Engine.IO middlewares get on an upgrade) puts on the TCP socket, which holds the response, which
 * holds the request. With its headers, raw headers and stream state that is 1.6 KB of the 12.9 KB
 * each held socket costs a gateway. Only an Engine.IO middleware could listen to that response (pino-http
 * does, for its `close`), so the listener stays whenever one is registered; parley registers none. The
 * handshake (`socket.handshake`: headers, address, query, auth) is built before the request is dropped.
 * A second namespace connected over the same connection would get a handshake without headers or
 * query, as with Socket.IO's own advice (`rawSocket.request = null`); the gateway serves only `/`.
 */
import type { Duplex } from "node:stream";

import type { GatewayServer } from "./types.js";

type Listener = (...args: unknown[]) => void;

/** Engine.IO's server, as far as this module reaches into it. */
interface UpgradingEngine {
  handleUpgrade(req: unknown, socket: Duplex, head: Buffer): void;
  /** Those of `io.engine.use()`. */
  middlewares: readonly unknown[];
}

export function releaseUpgradeRequests(io: GatewayServer): void {
  const engine = io.engine as unknown as UpgradingEngine;
  const handleUpgrade = engine.handleUpgrade.bind(engine);
  engine.handleUpgrade = (req, socket, head) => {
    if (engine.middlewares.length > 0) return handleUpgrade(req, socket, head);
    const before = new Set(socket.rawListeners("close"));
    handleUpgrade(req, socket, head);
    // The `once` wrappers added while Engine.IO took the upgrade are its WebSocketResponse's (`ws`
    // listens with `on`, and keeps its own).
    for (const listener of socket.rawListeners("close")) {
      if (!before.has(listener) && typeof (listener as { listener?: unknown }).listener === "function") {
        socket.removeListener("close", listener as Listener);
      }
    }
  };
  io.on("connection", (socket) => {
    (socket.conn as { request: unknown }).request = null;
  });
}
