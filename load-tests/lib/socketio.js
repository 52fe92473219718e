/**
 * A Socket.IO v4 client for k6: Engine.IO protocol 4 and Socket.IO protocol 5, framed by hand over
 * `k6/websockets` (the event-loop WebSocket API, so one VU holds many sockets).
 *
 * WebSocket transport only. k6 has no HTTP long-polling client that could hold a poll open while the
 * VU does other work, and polling would measure nginx's sticky routing rather than the gateways. A
 * client that opens `/socket.io/?EIO=4&transport=websocket` directly skips the polling handshake
 * altogether, which every Socket.IO server accepts; through nginx, each new WebSocket goes to the least
 * busy gateway (`least_conn` in the local cluster, the affinity hash in production) and stays there.
 *
 * The frames are listed in socketio-frames.js.
 *
 * The client sends `40` as soon as the WebSocket is open, without waiting for the server's Engine.IO
 * open packet, which the server sends at once on the upgrade. k6 (v2.2.0, k6/websockets) starts
 * reading a connection before it queues the `open` event, and drops any frame read in between: now
 * and then the open packet is lost. The server reads `40` either way; the open packet only brings
 * the heartbeat's timings and `maxPayload`, for which the client keeps Socket.IO's defaults until it
 * comes.
 */
import { WebSocket } from "k6/websockets";

import { EIO, SIO, decodeFrame, encodePacket, socketUrl } from "./socketio-frames.js";

export { EIO, SIO, decodeFrame, encodePacket, socketUrl } from "./socketio-frames.js";

/** @import { AckTiming, ClientEvents, ClientToServerEvents, EventAck, EventPayload, Handler, PendingAck, PendingConnect, SocketIoOptions } from "./socketio-types.js" */

/** Socket.IO's default pingInterval + pingTimeout, until the server's open packet says otherwise. */
const DEFAULT_PING_WINDOW_MS = 25_000 + 20_000;

/** An error with a machine-readable `code`, like Socket.IO's `connect_error` with `err.data.code`. */
export class SocketIoError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = "SocketIoError";
    this.code = code;
  }
}

/**
 * One Socket.IO connection to namespace "/".
 *
 * Events are `on(event, fn)`; besides the server's own events there are the lifecycle events
 * `connect` (after `40`), `connect_error` (err with `.code`), `disconnect` (reason) and `reconnect`
 * (attempt). `receivedAt` holds the time (ms, fractional) at which k6 read the frame being
 * dispatched, before it waited for the VU's event loop: measure latency from it, not from `Date.now()`.
 */
export class SocketIoClient {
  /**
   * @param {string} url base URL of the server (`http://localhost:8080`) or a full `ws://` URL.
   * @param {SocketIoOptions} [options] see {@link SocketIoOptions}; `reconnection` defaults to
   *   `{ delayMs: 500, maxDelayMs: 5000, attempts: Infinity }` when given.
   */
  constructor(url, options = {}) {
    this.url = url.startsWith("ws") ? url : socketUrl(url);
    this.options = options;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.reconnection = options.reconnection ? { delayMs: 500, maxDelayMs: 5_000, attempts: Infinity, ...options.reconnection } : undefined;
    /** @type {Map<string, Handler[]>} */
    this.handlers = new Map();
    /** @type {Map<number, PendingAck>} */
    this.acks = new Map();
    this.nextAckId = 0;
    /** @type {WebSocket | undefined} */
    this.ws = undefined;
    /** @type {string | undefined} */
    this.sid = undefined;
    this.connected = false;
    this.receivedAt = 0;
    this.pingWindowMs = DEFAULT_PING_WINDOW_MS;
    this.maxPayload = Infinity;
    this.closedByUser = false;
    this.reconnectAttempt = 0;
    /** @type {PendingConnect | undefined} */
    this.pending = undefined;
    /** @type {import("k6/timers").TimeoutID | undefined} */
    this.heartbeat = undefined;
    /** @type {import("k6/timers").TimeoutID | undefined} */
    this.reconnectTimer = undefined;
  }

  /**
   * Adds a handler; `fn(...args)` for server events, see the class comment for lifecycle events.
   *
   * @template {keyof ClientEvents} E
   * @param {E} event
   * @param {ClientEvents[E]} fn
   * @returns {this}
   */
  on(event, fn) {
    const list = this.handlers.get(event);
    if (list) list.push(fn);
    else this.handlers.set(event, [fn]);
    return this;
  }

  /**
   * Removes a handler added with {@link on}.
   *
   * @template {keyof ClientEvents} E
   * @param {E} event
   * @param {ClientEvents[E]} fn
   * @returns {this}
   */
  off(event, fn) {
    const list = this.handlers.get(event);
    if (list) this.handlers.set(event, list.filter((h) => h !== fn));
    return this;
  }

  /**
   * Opens the WebSocket and connects to "/". Resolves with the Socket.IO session id on `40`; rejects
   * with a {@link SocketIoError}: `code` is the server's `data.code` for a refused handshake, else
   * `TIMEOUT` or `TRANSPORT` (the WebSocket failed or closed first).
   *
   * @returns {Promise<string | undefined>}
   */
  connect() {
    if (this.pending) return this.pending.promise;
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    const pending = /** @type {PendingConnect} */ ({});
    pending.promise = new Promise((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    pending.timer = setTimeout(() => this.failConnect(new SocketIoError("TIMEOUT", `no Socket.IO connect within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    this.pending = pending;
    this.open();
    return pending.promise;
  }

  /**
   * Sends an event without an ack. Returns false (and sends nothing) while disconnected.
   *
   * @template {keyof ClientToServerEvents} E
   * @param {E} event
   * @param {...EventPayload<E>} args
   * @returns {boolean}
   */
  emit(event, ...args) {
    if (!this.connected) return false;
    return this.send(encodePacket(SIO.EVENT, [event, ...args]));
  }

  /**
   * Sends an event with an ack id. Resolves with the ack's first argument (parley answers
   * `{ ok, … }`); rejects with `TIMEOUT` after `timeoutMs`, or `DISCONNECTED` when the connection
   * ends first, as socket.io-client's `timeout(ms).emitWithAck()` does. When `timing` is given, its
   * `sentAt` and `ackAt` are set (ms; `ackAt` when k6 read the ack's frame).
   *
   * @template {keyof ClientToServerEvents} E
   * @param {E} event
   * @param {EventPayload<E>} payload
   * @param {number} [timeoutMs]
   * @param {AckTiming} [timing]
   * @returns {Promise<EventAck<E>>}
   */
  emitWithAck(event, payload, timeoutMs = 10_000, timing = undefined) {
    if (!this.connected) return Promise.reject(new SocketIoError("DISCONNECTED", `not connected: ${event} not sent`));
    const id = this.nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new SocketIoError("TIMEOUT", `no ack for ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      // The server's answer is taken to be what the protocol declares for the event.
      this.acks.set(id, { resolve: /** @type {(answer: unknown) => void} */ (resolve), reject, timer, event, timing });
      if (timing) timing.sentAt = Date.now();
      if (!this.send(encodePacket(SIO.EVENT, [event, payload], id))) {
        clearTimeout(timer);
        this.acks.delete(id);
        reject(new SocketIoError("PAYLOAD_TOO_LARGE", `${event} exceeds the server's maxPayload`));
      }
    });
  }

  /** Leaves the namespace (`41`) and closes the WebSocket; no reconnection follows. */
  close() {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    if (this.connected) this.send(encodePacket(SIO.DISCONNECT));
    this.teardown("io client disconnect");
  }

  /**
   * Closes the WebSocket without a Socket.IO goodbye, as a lost network does (the server sees
   * `transport close`). With `reconnection` set and `reconnect` true the client then reconnects by
   * itself; else call {@link connect} again.
   *
   * @param {boolean} [reconnect]
   */
  drop(reconnect = true) {
    this.teardown("transport close");
    if (reconnect) this.scheduleReconnect();
  }

  // Internals.

  open() {
    let ws;
    try {
      ws = new WebSocket(this.url, null, this.options.headers || this.options.tags ? { headers: this.options.headers, tags: this.options.tags } : null);
    } catch (err) {
      this.failConnect(new SocketIoError("TRANSPORT", String(err)));
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.armHeartbeat();
      this.send(encodePacket(SIO.CONNECT, this.options.auth));
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      const e = /** @type {import("k6/websockets").MessageEvent} */ (event);
      try {
        // Text frames only: parley sends no binary attachments.
        this.onFrame(/** @type {string} */ (e.data), e.timestamp);
      } catch (err) {
        // A throwing listener makes k6 close the socket; keep the connection and report instead.
        console.error(`socket.io: cannot handle frame ${String(e.data).slice(0, 80)}: ${err}`);
      }
    });
    ws.addEventListener("error", (e) => {
      if (this.ws === ws && this.pending) this.failConnect(new SocketIoError("TRANSPORT", String(/** @type {import("k6/websockets").ErrorEvent} */ (e).error)));
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.pending) this.failConnect(new SocketIoError("TRANSPORT", "WebSocket closed during the handshake"));
      else if (this.connected) {
        this.lost("transport close");
        this.scheduleReconnect();
      }
    });
  }

  /**
   * @param {string} text
   * @param {number} timestamp when k6 read the frame (ms)
   */
  onFrame(text, timestamp) {
    this.receivedAt = timestamp || Date.now();
    const frame = decodeFrame(text);
    switch (frame.eio) {
      case EIO.MESSAGE:
        return this.onPacket(/** @type {import("./socketio-frames.js").PacketFrame} */ (frame));
      case EIO.PING:
        this.send(EIO.PONG);
        return this.armHeartbeat();
      case EIO.OPEN: {
        // `40` went out with the WebSocket's open event (see the module comment).
        const open = /** @type {import("./socketio-frames.js").OpenPacket} */ (frame.data);
        this.sid = open.sid;
        this.pingWindowMs = open.pingInterval + open.pingTimeout;
        this.maxPayload = open.maxPayload ?? Infinity;
        return this.armHeartbeat();
      }
      case EIO.CLOSE:
        this.teardown("transport close");
        return this.scheduleReconnect();
      default:
        return undefined; // NOOP, UPGRADE, PONG: nothing to do over a WebSocket-only session
    }
  }

  /** @param {import("./socketio-frames.js").PacketFrame} packet */
  onPacket({ type, nsp, id, data }) {
    if (nsp !== "/") return;
    switch (type) {
      case SIO.EVENT: {
        const [event, ...args] = /** @type {[string, ...unknown[]]} */ (data);
        if (id !== undefined) args.push((/** @type {unknown[]} */ ...answer) => this.send(encodePacket(SIO.ACK, answer, id)));
        return this.dispatch(event, args);
      }
      case SIO.ACK: {
        const ack = this.acks.get(/** @type {number} */ (id));
        if (!ack) return undefined; // answered after its timeout
        this.acks.delete(/** @type {number} */ (id));
        clearTimeout(ack.timer);
        if (ack.timing) ack.timing.ackAt = this.receivedAt;
        return ack.resolve(/** @type {unknown[]} */ (data)[0]);
      }
      case SIO.CONNECT: {
        const connected = /** @type {{ sid?: string } | undefined} */ (data);
        this.connected = true;
        /** @type {string | undefined} */
        this.socketId = connected && connected.sid;
        const pending = this.pending;
        this.pending = undefined;
        if (pending) {
          clearTimeout(pending.timer);
          pending.resolve(this.socketId);
        }
        const attempt = this.reconnectAttempt;
        this.reconnectAttempt = 0;
        this.dispatch("connect", []);
        if (attempt > 0) this.dispatch("reconnect", [attempt]);
        return undefined;
      }
      case SIO.CONNECT_ERROR: {
        const refusal = /** @type {{ message?: string, data?: { code?: string } } | undefined} */ (data);
        const code = (refusal && refusal.data && refusal.data.code) || "CONNECT_ERROR";
        // Socket.IO does not retry a refused handshake: neither do we.
        this.closedByUser = true;
        return this.failConnect(new SocketIoError(code, (refusal && refusal.message) || "connection refused"));
      }
      case SIO.DISCONNECT:
        this.teardown("io server disconnect");
        return undefined; // the server meant it: no reconnection, as in socket.io-client
      default:
        return undefined;
    }
  }

  /**
   * Calls the handlers of `event` with the arguments the server sent (or the lifecycle event's own).
   *
   * @param {string} event
   * @param {unknown[]} args
   */
  dispatch(event, args) {
    const list = this.handlers.get(event);
    if (!list) return;
    for (const fn of list) {
      try {
        // Arguments are taken to be what the protocol declares for the event (see `on`).
        /** @type {(...args: unknown[]) => void} */ (fn)(...args);
      } catch (err) {
        const error = /** @type {Error | undefined} */ (err);
        console.error(`socket.io: handler of ${event} threw: ${error && error.stack ? error.stack : error}`);
      }
    }
  }

  /** @param {string} text */
  send(text) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    if (text.length > this.maxPayload) return false; // the server would close the connection (1009)
    this.ws.send(text);
    return true;
  }

  /** The server pings every pingInterval; silence beyond pingInterval + pingTimeout means a dead link. */
  armHeartbeat() {
    clearTimeout(this.heartbeat);
    this.heartbeat = setTimeout(() => {
      this.teardown("ping timeout");
      this.scheduleReconnect();
    }, this.pingWindowMs);
  }

  /** @param {SocketIoError} err */
  failConnect(err) {
    const pending = this.pending;
    this.pending = undefined;
    this.teardown(undefined);
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.dispatch("connect_error", [err]);
    if (err.code === "TIMEOUT" || err.code === "TRANSPORT") this.scheduleReconnect();
  }

  /**
   * Closes the WebSocket and fails what waits on it; `reason` set: a connection was lost.
   *
   * @param {string | undefined} reason
   */
  teardown(reason) {
    clearTimeout(this.heartbeat);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= 1) {
      try {
        ws.close();
      } catch {
        // already closing
      }
    }
    if (this.connected && reason) this.lost(reason);
    this.connected = false;
  }

  /** @param {string} reason */
  lost(reason) {
    this.connected = false;
    clearTimeout(this.heartbeat);
    for (const [id, ack] of this.acks) {
      clearTimeout(ack.timer);
      ack.reject(new SocketIoError("DISCONNECTED", `connection lost before the ack of ${ack.event}`));
      this.acks.delete(id);
    }
    this.dispatch("disconnect", [reason]);
  }

  scheduleReconnect() {
    const policy = this.reconnection;
    if (!policy || this.closedByUser || this.pending || this.connected) return;
    if (this.reconnectAttempt >= policy.attempts) return;
    this.reconnectAttempt++;
    const base = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** (this.reconnectAttempt - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.closedByUser || this.connected || this.pending) return;
      // On failure, failConnect has already scheduled the next attempt (or given up on a refusal).
      this.connect().catch(() => {});
    }, delay);
  }
}

/**
 * Connects a new client; resolves once connected, rejects like {@link SocketIoClient.connect}.
 *
 * @param {string} url
 * @param {SocketIoOptions} [options]
 * @returns {Promise<SocketIoClient>}
 */
export function connectSocket(url, options) {
  const client = new SocketIoClient(url, options);
  return client.connect().then(() => client);
}
