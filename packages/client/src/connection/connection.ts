/**
 * The connection's life: the handshake with a token, `session:ready`, Socket.IO's own reconnection
 * where it is enough, and full-jitter backoff where it is not (a server disconnect, a refused handshake,
 * a token provider that failed), until `ready`, `failed` (the user must act) or `disposed`.
 */
import { PROTOCOL_VERSION, type ErrorCode, type SessionEnded, type SessionReady } from "@parley/protocol";

import { ParleyError, toParleyError } from "../errors.js";
import { backoffDelay, type BackoffOptions } from "../lib/backoff.js";
import { Emitter } from "../lib/emitter.js";
import type { Logger } from "../lib/logger.js";
import type { Timers } from "../lib/timers.js";
import { createStore, type Store } from "../store.js";
import type { Requester } from "../transport/requests.js";
import type { ClientSocket, HandshakeAuth, SocketFactory, SocketIoOptions } from "../transport/socket.js";
import { SessionRefresher } from "./session-refresh.js";
import { DisposedError, type TokenSource } from "./token-source.js";

/** Where the connection is. `failed` needs the user (log in again); `disposed` is the end. */
export type ConnectionState = "idle" | "connecting" | "ready" | "reconnecting" | "failed" | "disposed";

/** The connection as `client.connection` shows it. */
export interface ConnectionSnapshot {
  state: ConnectionState;
  /** Why the connection is not ready: the last failure (kept while reconnecting, cleared when ready). */
  error?: ParleyError;
  /** While waiting to retry on its own schedule: the wait, in milliseconds, from when this snapshot was made. */
  retryInMs?: number;
  /** The user of the session, from `session:ready`. */
  userId?: string;
  /** The session (logged-in device) of the token, from `session:ready`. */
  sessionId?: string;
  /** The gateway process serving the socket, from `session:ready`. */
  node?: string;
  /** The protocol version the server speaks (`session:ready.protocol`), `major.minor`. */
  serverProtocol?: string;
}

/** Handshake refusals that only the user can resolve: the connection fails instead of retrying. */
const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "AUTH_REQUIRED",
  "INVALID_TOKEN",
  "SESSION_REVOKED",
  "USER_NOT_FOUND",
  "UNSUPPORTED_PROTOCOL",
  "INVALID_CREDENTIALS",
  "FORBIDDEN",
  "VALIDATION",
]);

/** Whether a connection that met `error` should stop and wait for the user. */
export function isFatal(error: ParleyError): boolean {
  return FATAL_CODES.has(error.code);
}

/** What the connection needs. */
export interface ConnectionDeps {
  url: string;
  tokens: TokenSource;
  createSocket: SocketFactory;
  socketOptions: SocketIoOptions;
  timers: Timers;
  logger: Logger;
  backoff: BackoffOptions;
  random: () => number;
}

interface ConnectionEvents {
  [event: string]: (...args: never[]) => void;
  /** A session is ready: every subsystem resumes (outbox, sync, presence, receipts). */
  ready: (session: SessionReady) => void;
  /** The socket went away. */
  down: () => void;
}

/** The client's connection: one socket, its listeners wired once, and the state machine around it. */
export class Connection {
  readonly socket: ClientSocket;
  private readonly store = createStore<ConnectionSnapshot>({ state: "idle" });
  private readonly events = new Emitter<ConnectionEvents>();
  private readonly refresher: SessionRefresher;
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private attempt = 0;
  private cancelRetry: (() => void) | undefined;
  private handshakes = 0;
  private everReady = false;
  private ended: SessionEnded | undefined;
  /** The token of the last handshake: named to the provider when the server refuses it as expired. */
  private lastToken: string | undefined;

  constructor(private readonly deps: ConnectionDeps) {
    this.socket = deps.createSocket({ url: deps.url, auth: (cb) => this.authenticate(cb), options: deps.socketOptions });
    this.refresher = new SessionRefresher({
      tokens: deps.tokens,
      timers: deps.timers,
      logger: deps.logger,
      random: deps.random,
      fail: (err) => this.fail(err),
      reconnect: (err) => {
        this.socket.disconnect();
        this.scheduleRetry(err);
      },
    });
    const socket = this.socket;
    socket.on("session:ready", (session) => this.onReady(session));
    socket.on("session:expiring", ({ expiresAt }) => this.refresher.start(expiresAt));
    socket.on("session:ended", (ended) => {
      this.ended = ended;
    });
    socket.on("disconnect", (reason) => this.onDisconnect(reason));
    socket.on("connect_error", (err) => this.onConnectError(err));
    socket.on("error", (err) => deps.logger.debug("parley: event error", err));
  }

  /** The state as a store. */
  get state(): Store<ConnectionSnapshot> {
    return this.store;
  }

  /** Whether a session is ready (requests may go). */
  get ready(): boolean {
    return this.store.get().state === "ready" && this.socket.connected;
  }

  /** The user of the current (or last) session. */
  get userId(): string | undefined {
    return this.store.get().userId;
  }

  /** Subsystems bind the requester for `auth:refresh` once the client has it. */
  bind(request: Requester): void {
    this.refresher.bind(request);
  }

  /** Listens to `ready` or `down`. */
  on<E extends "ready" | "down">(event: E, listener: ConnectionEvents[E]): () => void {
    return this.events.on(event, listener);
  }

  /** Resolves at the next (or current) `session:ready`; rejects when the connection fails or is disposed. */
  connect(): Promise<void> {
    const { state } = this.store.get();
    if (state === "disposed") return Promise.reject(new DisposedError());
    if (state === "ready") return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (state === "idle" || state === "failed") {
      this.attempt = 0;
      this.set({ state: this.everReady ? "reconnecting" : "connecting" });
      this.socket.connect();
    }
    return promise;
  }

  /** Closes everything; later calls reject or do nothing. */
  dispose(): void {
    if (this.store.get().state === "disposed") return;
    this.cancelRetry?.();
    this.refresher.stop();
    this.set({ state: "disposed" });
    this.socket.close();
    this.settle(new DisposedError());
    this.events.clear();
  }

  /** Stops trying: the user must act (log in again), then call `connect()`. */
  fail(error: ParleyError): void {
    const { state } = this.store.get();
    if (state === "disposed" || state === "failed") return;
    this.deps.logger.warn(`parley: connection failed (${error.code})`, error);
    this.cancelRetry?.();
    this.refresher.stop();
    this.handshakes++;
    this.set({ state: "failed", error });
    this.socket.disconnect();
    this.settle(error);
  }

  private authenticate(cb: (data: HandshakeAuth) => void): void {
    const handshake = ++this.handshakes;
    this.deps.tokens.get().then(
      (token) => {
        if (handshake !== this.handshakes || !this.active()) return;
        this.lastToken = token;
        cb({ token, protocol: PROTOCOL_VERSION });
      },
      (err: unknown) => {
        if (handshake !== this.handshakes || !this.active() || err instanceof DisposedError) return;
        const error = toParleyError(err);
        // The handshake waits for a token that will not come: close it, then fail or retry ourselves.
        this.socket.disconnect();
        if (isFatal(error)) this.fail(error);
        else this.scheduleRetry(error);
      },
    );
  }

  private onReady(session: SessionReady): void {
    if (!this.active()) return;
    this.attempt = 0;
    this.cancelRetry?.();
    this.everReady = true;
    this.ended = undefined;
    this.set({ state: "ready", userId: session.userId, sessionId: session.sessionId, node: session.node, serverProtocol: session.protocol });
    this.settle();
    this.events.emit("ready", session);
  }

  private onDisconnect(reason: string): void {
    this.refresher.stop();
    this.events.emit("down");
    if (!this.active()) return;
    const ended = this.ended;
    this.ended = undefined;
    if (reason === "io client disconnect") return;
    if (reason === "io server disconnect") {
      // Socket.IO does not come back after a server disconnect: session:ended said why, if anything.
      if (ended?.code === "SESSION_REVOKED") return this.fail(new ParleyError(ended));
      if (ended?.code === "TOKEN_EXPIRED") this.deps.tokens.invalidate(this.lastToken);
      return this.scheduleRetry(ended && new ParleyError(ended));
    }
    if (this.socket.active) this.set({ state: "reconnecting", error: this.store.get().error });
    else this.scheduleRetry();
  }

  private onConnectError(err: Error): void {
    if (!this.active()) return;
    const refused = typeof (err as { data?: unknown }).data === "object";
    const error = toParleyError(err);
    if (refused && isFatal(error)) return this.fail(error);
    if (error.code === "TOKEN_EXPIRED") this.deps.tokens.invalidate(this.lastToken);
    // A transport failure is retried by Socket.IO itself; a refused handshake is not.
    if (!refused && this.socket.active) {
      this.set({ state: this.everReady ? "reconnecting" : "connecting", error });
      return;
    }
    this.scheduleRetry(error);
  }

  private scheduleRetry(error?: ParleyError): void {
    if (!this.active()) return;
    this.cancelRetry?.();
    const delay = Math.max(error?.retryAfterMs ?? 0, backoffDelay(this.attempt++, this.deps.backoff, this.deps.random));
    this.set({ state: this.everReady ? "reconnecting" : "connecting", error, retryInMs: delay });
    this.deps.logger.debug(`parley: reconnecting in ${delay} ms`, error);
    this.cancelRetry = this.deps.timers.set(() => {
      this.cancelRetry = undefined;
      if (!this.active()) return;
      this.set({ ...this.store.get(), retryInMs: undefined });
      this.socket.connect();
    }, delay);
  }

  /** Neither failed nor disposed nor idle: trying to be (or being) connected. */
  private active(): boolean {
    const { state } = this.store.get();
    return state === "connecting" || state === "ready" || state === "reconnecting";
  }

  private set(next: ConnectionSnapshot): void {
    // The last session's user stays visible while reconnecting.
    const userId = next.state === "ready" || next.state === "disposed" ? next.userId : (next.userId ?? this.store.get().userId);
    const snapshot: ConnectionSnapshot = { ...next };
    if (userId === undefined) delete snapshot.userId;
    else snapshot.userId = userId;
    for (const key of Object.keys(snapshot) as (keyof ConnectionSnapshot)[]) if (snapshot[key] === undefined) delete snapshot[key];
    this.store.set(snapshot);
  }

  private settle(error?: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }
}
