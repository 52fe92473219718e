/**
 * The one seam between the SDK and Socket.IO: a small socket interface the SDK talks to, and its
 * implementation on socket.io-client. Tests (and custom transports) provide their own.
 */
import type {
  AckResponse,
  ClientToServerEvents,
  EventPayload,
  EventResult,
  ServerToClientEvents,
} from "@parley/protocol";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

/** Socket lifecycle events, as Socket.IO emits them. */
export interface SocketLifecycleEvents {
  /** The Socket.IO connection is up (the session is not ready yet: wait for `session:ready`). */
  connect: () => void;
  /** The connection went away; `reason` is Socket.IO's (`io server disconnect`, `transport close`…). */
  disconnect: (reason: string) => void;
  /** A connection attempt failed; a refused handshake carries `data: { code }`. */
  connect_error: (err: Error) => void;
}

/** Everything a {@link ClientSocket} can be listened to for. */
export type SocketEvents = ServerToClientEvents & SocketLifecycleEvents;

/** Why a request got no answer. */
export type NoAnswerReason = "timeout" | "disconnected" | "offline";

/** A request that got no answer at all: it may or may not have reached the server. */
export class NoAnswerError extends Error {
  constructor(readonly reason: NoAnswerReason) {
    super(reason === "timeout" ? "the acknowledgement timed out" : reason === "offline" ? "not connected" : "disconnected before the answer");
    this.name = "NoAnswerError";
  }
}

/** The socket as the SDK uses it. Listeners are added once, for the socket's whole life. */
export interface ClientSocket {
  /** Whether the connection is up right now. */
  readonly connected: boolean;
  /** Whether Socket.IO itself will reconnect after the current disconnect (`socket.active`). */
  readonly active: boolean;
  /** Opens the connection (again); a no-op while it is open or opening. */
  connect(): void;
  /** Closes the connection; Socket.IO does not reconnect after this. */
  disconnect(): void;
  /** Listens to `event` for the socket's whole life. */
  on<E extends keyof SocketEvents>(event: E, listener: SocketEvents[E]): void;
  /**
   * Emits `event` with an acknowledgement and resolves with the server's answer. Rejects with a
   * {@link NoAnswerError} when not connected (nothing is buffered), on timeout, or on a disconnect.
   */
  request<E extends keyof ClientToServerEvents>(event: E, payload: EventPayload<E>, timeoutMs: number): Promise<AckResponse<EventResult<E>>>;
  /** Emits `event` without an acknowledgement, only if connected, and dropped if it cannot go at once. */
  volatile<E extends keyof ClientToServerEvents>(event: E, payload: EventPayload<E>): void;
  /** Removes every listener and closes the connection for good. */
  close(): void;
}

/** The handshake data the SDK sends (Socket.IO `auth`). */
export interface HandshakeAuth {
  token: string;
  protocol: string;
}

/**
 * Socket.IO client options the SDK passes through (reconnection delays, transports, path…). Not
 * `retries` and `ackTimeout`: Socket.IO's own retry queue would resend on its own schedule, and the SDK
 * owns resends (its outbox); nor `auth`, `autoConnect` and `forceNew`, which are the SDK's.
 */
export type SocketIoOptions = Partial<Omit<ManagerOptions & SocketOptions, "auth" | "autoConnect" | "forceNew" | "retries" | "ackTimeout">>;

/** What a {@link SocketFactory} gets. */
export interface SocketFactoryOptions {
  url: string;
  /** Socket.IO's `auth` option: called before every handshake. */
  auth: (cb: (data: HandshakeAuth) => void) => void;
  options: SocketIoOptions;
}

/** Creates the client's one socket, not yet connected. */
export type SocketFactory = (options: SocketFactoryOptions) => ClientSocket;

/** Socket.IO's own reconnection, with jitter, for dropped transports. */
const DEFAULT_SOCKET_OPTIONS: SocketIoOptions = {
  reconnectionDelay: 1000,
  reconnectionDelayMax: 10_000,
  randomizationFactor: 0.5,
};

/** Emits with names and payloads checked by {@link ClientSocket}'s signatures, not by Socket.IO's. */
interface UntypedEmitter {
  emit(event: string, ...args: unknown[]): unknown;
}

/**
 * The {@link SocketFactory} on socket.io-client. Each client gets its own Manager (`forceNew`), so
 * that two clients of two users in one process never share a connection.
 */
export const socketIoFactory: SocketFactory = ({ url, auth, options }) => {
  // Options from plain JavaScript may still carry them: they are dropped, not obeyed.
  const { retries: _retries, ackTimeout: _ackTimeout, ...passed } = options as SocketIoOptions & { retries?: unknown; ackTimeout?: unknown };
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    ...DEFAULT_SOCKET_OPTIONS,
    ...passed,
    forceNew: true,
    autoConnect: false,
    auth,
  });
  return {
    get connected() {
      return socket.connected;
    },
    get active() {
      return socket.active;
    },
    connect: () => void socket.connect(),
    disconnect: () => void socket.disconnect(),
    on(event, listener) {
      (socket as unknown as { on(e: string, l: unknown): void }).on(event, listener);
    },
    request(event, payload, timeoutMs) {
      // Never let Socket.IO buffer an emit for later: the SDK resends what matters itself.
      if (!socket.connected) return Promise.reject(new NoAnswerError("offline"));
      return new Promise((resolve, reject) => {
        (socket.timeout(timeoutMs) as unknown as UntypedEmitter).emit(event, payload, (err: Error | null, res: AckResponse<EventResult<typeof event>>) => {
          if (!err) resolve(res);
          else reject(new NoAnswerError(/disconnected/.test(err.message) ? "disconnected" : "timeout"));
        });
      });
    },
    volatile(event, payload) {
      if (socket.connected) (socket.volatile as unknown as UntypedEmitter).emit(event, payload);
    },
    close() {
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
};
