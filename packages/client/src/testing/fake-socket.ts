/**
 * An in-memory {@link ClientSocket} for unit tests: it records what the SDK emits, and lets a test play
 * the server (handshakes, events, acknowledgements, disconnects). Not part of the build.
 */
import type { AckResponse, ClientToServerEvents, EventResult, ServerToClientEvents, SessionReady, WireError } from "@parley/protocol";

import { NoAnswerError, type ClientSocket, type HandshakeAuth, type SocketEvents, type SocketFactory, type SocketFactoryOptions } from "../transport/socket.js";

/** A request the SDK made, waiting for the test to answer it. */
export interface FakeRequest {
  event: keyof ClientToServerEvents;
  payload: Record<string, unknown>;
  answered: boolean;
  respond(res: AckResponse<object>): void;
}

/** The user of every fake session. */
export const USER = "aaaaaaaaaaaaaaaaaaaaaaaa";

/** A socket the test drives. */
export class FakeSocket implements ClientSocket {
  connected = false;
  active = false;
  connectCalls = 0;
  options: SocketFactoryOptions | undefined;
  readonly requests: FakeRequest[] = [];
  readonly volatiles: { event: string; payload: unknown }[] = [];
  private readonly listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  private readonly inflight = new Set<(err: NoAnswerError) => void>();
  private readonly requestWatchers = new Set<() => void>();

  readonly factory: SocketFactory = (options) => {
    this.options = options;
    return this;
  };

  connect(): void {
    this.connectCalls++;
    this.active = true;
  }

  disconnect(): void {
    const was = this.connected;
    this.connected = false;
    this.active = false;
    this.failInflight();
    if (was) this.fire("disconnect", "io client disconnect");
  }

  on<E extends keyof SocketEvents>(event: E, listener: SocketEvents[E]): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (...args: unknown[]) => void);
  }

  /** How many listeners `event` has (to check that nothing stacks up). */
  listenerCount(event: keyof SocketEvents): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  request<E extends keyof ClientToServerEvents>(event: E, payload: Parameters<ClientToServerEvents[E]>[0], timeoutMs: number): Promise<AckResponse<EventResult<E>>> {
    if (!this.connected) return Promise.reject(new NoAnswerError("offline"));
    return new Promise((resolve, reject) => {
      const fail = (err: NoAnswerError): void => {
        this.inflight.delete(fail);
        clearTimeout(timer);
        req.answered = true;
        reject(err);
      };
      const timer = setTimeout(() => fail(new NoAnswerError("timeout")), timeoutMs);
      const req: FakeRequest = {
        event,
        payload: payload as Record<string, unknown>,
        answered: false,
        respond: (res) => {
          if (req.answered) return;
          req.answered = true;
          this.inflight.delete(fail);
          clearTimeout(timer);
          resolve(res as AckResponse<EventResult<E>>);
        },
      };
      this.inflight.add(fail);
      this.requests.push(req);
      for (const watch of [...this.requestWatchers]) watch();
    });
  }

  volatile<E extends keyof ClientToServerEvents>(event: E, payload: Parameters<ClientToServerEvents[E]>[0]): void {
    if (this.connected) this.volatiles.push({ event, payload });
  }

  close(): void {
    this.listeners.clear();
    this.disconnect();
  }

  // --- the test's side ---

  /** Runs the SDK's `auth` function, as Socket.IO does before a handshake; resolves with what it sent. */
  handshake(): Promise<HandshakeAuth> {
    const auth = this.options?.auth;
    if (!auth) throw new Error("no socket was created");
    return new Promise((resolve) => auth(resolve));
  }

  /** A successful handshake and `session:ready`. */
  async open(session: Partial<SessionReady> = {}): Promise<HandshakeAuth> {
    const auth = await this.handshake();
    this.connected = true;
    this.active = true;
    this.fire("connect");
    this.push("session:ready", { userId: USER, node: "gw-1", sessionId: "bbbbbbbbbbbbbbbbbbbbbbbb", expiresAt: new Date(Date.now() + 900_000).toISOString(), protocol: "1.0", ...session });
    return auth;
  }

  /** A server event. */
  push<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    this.fire(event, ...args);
  }

  /** The transport dropped; Socket.IO reconnects by itself when `active`. */
  drop(reason = "transport close", active = true): void {
    this.connected = false;
    this.active = active;
    this.failInflight();
    this.fire("disconnect", reason);
  }

  /** The server refused the handshake with `code`. */
  refuse(code: WireError["code"], message = "refused"): void {
    this.connected = false;
    this.active = false;
    this.fire("connect_error", Object.assign(new Error(message), { data: { code } }));
  }

  /** Requests of `event` not answered yet. */
  pending(event: keyof ClientToServerEvents): FakeRequest[] {
    return this.requests.filter((r) => r.event === event && !r.answered);
  }

  /** Resolves with the oldest open request of `event` once there is one (real timers: rejects after `ms`). */
  next(event: keyof ClientToServerEvents, ms = 10_000): Promise<FakeRequest> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const req = this.pending(event)[0];
        if (!req) return;
        this.requestWatchers.delete(check);
        clearTimeout(timer);
        resolve(req);
      };
      const timer = setTimeout(() => {
        this.requestWatchers.delete(check);
        reject(new Error(`no ${event} request came`));
      }, ms);
      this.requestWatchers.add(check);
      check();
    });
  }

  /** Answers the oldest open request of `event` with `{ ok: true, ...result }`. */
  ok(event: keyof ClientToServerEvents, result: object = {}): FakeRequest {
    const req = this.first(event);
    req.respond({ ok: true, ...result });
    return req;
  }

  /** Answers the oldest open request of `event` with an error. */
  fail(event: keyof ClientToServerEvents, error: WireError): FakeRequest {
    const req = this.first(event);
    req.respond({ ok: false, error });
    return req;
  }

  private first(event: keyof ClientToServerEvents): FakeRequest {
    const req = this.pending(event)[0];
    if (!req) throw new Error(`no open ${event} request`);
    return req;
  }

  private failInflight(): void {
    for (const fail of [...this.inflight]) fail(new NoAnswerError("disconnected"));
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const l of [...(this.listeners.get(event) ?? [])]) l(...args);
  }
}
