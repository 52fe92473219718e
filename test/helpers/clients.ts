/** Real socket.io-client sockets, typed by the shared protocol. */
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

import type { ClientToServerEvents, ServerToClientEvents, SessionReady } from "@parley/protocol";

import { nextEventWhere } from "./events.js";

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectedClient {
  socket: ClientSocket;
  /** The `session:ready` payload: who, and which gateway node. */
  session: SessionReady;
}

const open = new Set<ClientSocket>();

/** Opens a socket (no automatic reconnection unless asked) without waiting for anything. */
export function openSocket(url: string, auth: Record<string, unknown>, options: Partial<ManagerOptions & SocketOptions> = {}): ClientSocket {
  const socket: ClientSocket = io(url, { auth, reconnection: false, forceNew: true, transports: ["websocket"], ...options });
  open.add(socket);
  return socket;
}

/** Connects with `token` and resolves once `session:ready` arrives. */
export function connectClient(url: string, token: string, options: Partial<ManagerOptions & SocketOptions> = {}, timeoutMs = 10_000): Promise<ConnectedClient> {
  const socket = openSocket(url, { token }, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no session:ready within timeout")), timeoutMs);
    socket.once("session:ready", (session) => {
      clearTimeout(timer);
      resolve({ socket, session });
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The `connect_error` a handshake ends with. */
export function connectError(url: string, auth: Record<string, unknown>, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Error & { data?: { code?: string } }> {
  const socket = openSocket(url, auth, options);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, but a connect_error was expected")));
    socket.once("connect_error", resolve);
  });
}

/** Disconnects every socket opened through these helpers. */
export function closeAllClients(): void {
  for (const socket of open) socket.disconnect();
  open.clear();
}

export type PresenceUpdate = Parameters<ServerToClientEvents["presence:update"]>[0];

/** The next `presence:update` about `userId` that `socket` receives. */
export function nextPresenceUpdate(
  socket: ClientSocket,
  userId: string,
  timeoutMs = 5_000,
): Promise<PresenceUpdate> {
  return nextEventWhere<PresenceUpdate>(socket, "presence:update", (update) => update.userId === userId, timeoutMs);
}

/** Every event whose name starts with `prefix` (`"call:"`…) that a socket receives, in order. */
export function eventsWithPrefix(socket: ClientSocket, prefix: string): [event: string, payload: unknown][] {
  const seen: [event: string, payload: unknown][] = [];
  socket.onAny((event: string, payload: unknown) => {
    if (event.startsWith(prefix)) seen.push([event, payload]);
  });
  return seen;
}
