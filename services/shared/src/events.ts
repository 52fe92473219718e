/**
 * Server-only parts of the Socket.IO wiring: the events between server processes, what the gateway
 * keeps on each socket, and the room names. The client-facing events are the protocol's
 * (`@parley/protocol`).
 */
import type { SessionEnded } from "@parley/protocol";

/**
 * Events between server processes through the adapter: `io.serverSideEmit` on a gateway, the emitter's
 * `serverSideEmit` on the API and the worker (see `revokeOnGateways`).
 */
export interface InterServerEvents {
  /** Sessions were revoked: every gateway ends their sockets with `session:ended`, then disconnects them. */
  "session:revoke": (payload: { userId: string; sessionIds: string[]; ended: SessionEnded }) => void;
}

/** What the gateway keeps on each socket (`socket.data`), set by the handshake middleware. */
export interface SocketData {
  userId: string;
  /** The session of the access token the socket connected with. */
  sessionId: string;
  /** When the socket's current access token expires (ms since the epoch). */
  expiresAt: number;
}

/** Room of every socket of one user, on every node. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}

/** Room of every socket of every member of one conversation, on every node. */
export function conversationRoom(conversationId: string): string {
  return `conv:${conversationId}`;
}
