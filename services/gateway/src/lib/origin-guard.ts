/**
 * The gateway's answer to cross-site WebSocket hijacking: a page of another site can open a WebSocket
 * (or long-poll) to the gateway, and the browser sends whatever the user's browser holds, so the
 * gateway checks the `Origin` header the browser puts on every such request. A Socket.IO request
 * (WebSocket upgrade or long-polling) whose `Origin` is not an allowed origin is refused with 403 before
 * Engine.IO sees it; requests without `Origin` (native apps, servers, load generators) go on. Long-polling
 * from the allowed origins gets its CORS headers here too (preflights answered), with credentials, so
 * that the proxy's affinity cookie travels cross-origin.
 *
 * Why here and not in Engine.IO's options: its `allowRequest` refuses an upgrade with 400 whatever the
 * reason (engine.io 6.6 `abortUpgrade`), and its `cors` option registers an Engine.IO middleware, which
 * makes `releaseUpgradeRequests` (upgrade-requests.ts) keep every WebSocket's first request.
 * Both are avoided by checking at the HTTP server, as the drain's refusals do.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

import cors from "cors";

const REFUSAL = JSON.stringify({ error: { code: "FORBIDDEN", message: "Origin not allowed" } });

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Whether a request with `origin` (undefined: none) may reach Socket.IO. */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  return origin === undefined || allowed.has(origin);
}

/**
 * Refuses Socket.IO requests from origins not in `allowed` with 403 and adds CORS to those from the
 * allowed ones. Call after Socket.IO attached to `httpServer`: it wraps the listeners attached so far.
 */
export function guardOrigins(httpServer: HttpServer, allowed: ReadonlySet<string>): void {
  const corsHeaders = cors({ origin: [...allowed], methods: ["GET", "POST"], credentials: true });

  const requestListeners = httpServer.listeners("request") as RequestListener[];
  httpServer.removeAllListeners("request");
  httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const forward = () => {
      for (const listener of requestListeners) listener.call(httpServer, req, res);
    };
    const origin = req.headers.origin;
    if (!req.url?.startsWith("/socket.io/") || origin === undefined) return forward();
    if (!originAllowed(origin, allowed)) {
      res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(REFUSAL) });
      res.end(REFUSAL);
      return;
    }
    // Answers preflights itself; otherwise sets the headers and goes on, synchronously.
    corsHeaders(req, res, forward);
  });

  const upgradeListeners = httpServer.listeners("upgrade") as UpgradeListener[];
  httpServer.removeAllListeners("upgrade");
  httpServer.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url?.startsWith("/socket.io/") && !originAllowed(req.headers.origin, allowed)) {
      socket.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(REFUSAL)}\r\n\r\n${REFUSAL}`,
      );
      return;
    }
    for (const listener of upgradeListeners) listener.call(httpServer, req, socket, head);
  });
}
