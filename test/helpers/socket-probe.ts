/**
 * A bare Socket.IO server on the Redis adapter, for observing what the API and the worker emit through
 * the Redis emitter without running a gateway. Clients join the rooms they name in `auth.rooms`.
 */
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";

import type { ServerToClientEvents } from "@parley/protocol";
import type { InterServerEvents } from "@parley/shared/events";

export interface SocketProbe {
  /** A client that has joined `rooms` (e.g. `conv:<id>`, `user:<id>`). */
  join(rooms: string[]): Promise<Socket<ServerToClientEvents>>;
  /** The rooms a probe client is in now, as the server sees them (socketsJoin/Leave change them). */
  roomsOf(client: Socket): Promise<string[]>;
  /**
   * Resolves with the next message to every gateway (`serverSideEmit` through the emitter) named
   * `event` for which `match` holds, or rejects after `timeoutMs`.
   */
  nextServerEvent<E extends keyof InterServerEvents>(
    event: E,
    match?: (payload: Parameters<InterServerEvents[E]>[0]) => boolean,
    timeoutMs?: number,
  ): Promise<Parameters<InterServerEvents[E]>[0]>;
  close(): Promise<void>;
}

export async function startSocketProbe(redisUrl: string): Promise<SocketProbe> {
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  const httpServer = createServer();
  const io = new Server<Record<string, never>, Record<string, () => void>, InterServerEvents>(httpServer, { adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
    const rooms = (socket.handshake.auth as { rooms?: unknown }).rooms;
    if (Array.isArray(rooms)) socket.join(rooms.map(String));
    socket.emit("probe:ready");
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const address = httpServer.address();
  if (typeof address !== "object" || !address) throw new Error("probe not listening");
  const clients: Socket[] = [];

  return {
    async join(rooms) {
      const client = connect(`http://127.0.0.1:${address.port}`, { auth: { rooms }, transports: ["websocket"] });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once("probe:ready" as never, () => resolve());
        client.once("connect_error", reject);
      });
      return client as Socket<ServerToClientEvents>;
    },
    nextServerEvent(event, match = () => true, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          io.off(event, listener as never);
          reject(new Error(`no ${event} within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (payload: Parameters<InterServerEvents[typeof event]>[0]) => {
          if (!match(payload)) return;
          clearTimeout(timer);
          io.off(event, listener as never);
          resolve(payload);
        };
        io.on(event, listener as never);
      });
    },
    async roomsOf(client) {
      const socket = io.of("/").sockets.get(client.id ?? "");
      return socket ? [...socket.rooms] : [];
    },
    async close() {
      for (const client of clients) client.disconnect();
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
