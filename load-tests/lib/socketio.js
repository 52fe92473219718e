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
 * The frames, all text (parley sends no binary attachments):
 *
 *   server → client  0{"sid","pingInterval","pingTimeout","maxPayload"}   Engine.IO open
 *   server → client  2                 ping; the client answers 3 (Engine.IO 4: the server pings)
 *   client → server  40{"token":"…","protocol":"1.0"}   Socket.IO CONNECT to "/" with the `auth` object
 *   server → client  40{"sid":"…"}     connected
 *   server → client  44{"message","data":{"code"}}   CONNECT_ERROR: the handshake was refused
 *   either way       42["event",arg…]  EVENT;  42<id>["event",arg…]: an event that wants an ack
 *   either way       43<id>[arg…]      ACK of the event sent with that id
 *   either way       41                DISCONNECT from the namespace;  1: Engine.IO close
 *
 * A namespace other than "/" sits between the type and the id (`42/admin,7["event"]`); the parser
 * understands it, the client only talks to "/".
 *
 * The client sends `40` as soon as the WebSocket is open, without waiting for the server's Engine.IO
 * open packet, which the server sends at once on the upgrade. k6 (v2.2.0, k6/websockets) starts
 * reading a connection before it queues the `open` event, and drops any frame read in between: now
 * and then the open packet is lost. The server reads `40` either way; the open packet only brings
 * the heartbeat's timings and `maxPayload`, for which the client keeps Socket.IO's defaults until it
 * comes.
 */
import { WebSocket } from "k6/websockets";

/** Engine.IO packet types: the first character of every frame. */
export const EIO = { OPEN: "0", CLOSE: "1", PING: "2", PONG: "3", MESSAGE: "4", UPGRADE: "5", NOOP: "6" };
/** Socket.IO's default pingInterval + pingTimeout, until the server's open packet says otherwise. */
const DEFAULT_PING_WINDOW_MS = 25_000 + 20_000;

/** Socket.IO packet types: the character after Engine.IO's `4`. */
export const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };

/** `http://host[:port][/base]` → `ws://host[:port][/base]/socket.io/?EIO=4&transport=websocket`. */
export function socketUrl(base, path = "/socket.io/") {
  const origin = base.replace(/^http(s?):\/\//, "ws$1://").replace(/\/+$/, "");
  return `${origin}${path}?EIO=4&transport=websocket`;
}

/** The text of a Socket.IO packet inside an Engine.IO message: `4` + type + [nsp,] + [id] + JSON. */
export function encodePacket(type, data, id, nsp = "/") {
  let out = `${EIO.MESSAGE}${type}`;
  if (nsp !== "/") out += `${nsp},`;
  if (id !== undefined) out += id;
  if (data !== undefined) out += JSON.stringify(data);
  return out;
}

/**
 * Parses one Engine.IO frame. Returns `{ eio, data }` for Engine.IO packets and, for messages,
 * `{ eio: "4", type, nsp, id, data }` with `data` the parsed JSON (or undefined). Throws on a frame it
 * cannot read, including binary packets, which parley never sends.
 */
export function decodeFrame(text) {
  const eio = text.charAt(0);
  if (eio !== EIO.MESSAGE) {
    const rest = text.slice(1);
    return { eio, data: eio === EIO.OPEN && rest ? JSON.parse(rest) : rest };
  }
  const type = text.charCodeAt(1) - 48;
  if (!(type >= SIO.CONNECT && type <= SIO.BINARY_ACK)) throw new Error(`unknown Socket.IO packet type in ${text.slice(0, 40)}`);
  if (type === SIO.BINARY_EVENT || type === SIO.BINARY_ACK) throw new Error("binary Socket.IO packets are not supported");
  let i = 2;
  let nsp = "/";
  if (text.charAt(i) === "/") {
    const comma = text.indexOf(",", i);
    const end = comma < 0 ? text.length : comma;
    nsp = text.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }
  let id;
  const start = i;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  if (i > start) id = Number(text.slice(start, i));
  const data = i < text.length ? JSON.parse(text.slice(i)) : undefined;
  return { eio: EIO.MESSAGE, type, nsp, id, data };
}

/** An error with a machine-readable `code`, like Socket.IO's `connect_error` with `err.data.code`. */
export class SocketIoError extends Error {
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
   * @param {object} [options]
   * @param {object} [options.auth] handshake `auth` object, e.g. `handshakeAuth(token)` (protocol.js).
   * @param {object} [options.headers] extra headers of the WebSocket upgrade request.
   * @param {object} [options.tags] k6 tags of the WebSocket's built-in metrics.
   * @param {number} [options.connectTimeoutMs] longest wait for `40`. @default 10000
   * @param {false|object} [options.reconnection] reconnect after an unexpected close, with exponential
   *   backoff and jitter: `{ delayMs: 500, maxDelayMs: 5000, attempts: Infinity }`. @default false
   */
  constructor(url, options = {}) {
    this.url = url.startsWith("ws") ? url : socketUrl(url);
    this.options = options;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.reconnection = options.reconnection ? { delayMs: 500, maxDelayMs: 5_000, attempts: Infinity, ...options.reconnection } : undefined;
    this.handlers = new Map();
    this.acks = new Map();
    this.nextAckId = 0;
    this.ws = undefined;
    this.sid = undefined;
    this.connected = false;
    this.receivedAt = 0;
    this.pingWindowMs = DEFAULT_PING_WINDOW_MS;
    this.maxPayload = Infinity;
    this.closedByUser = false;
    this.reconnectAttempt = 0;
    this.pending = undefined; // { resolve, reject, timer } of the connect() in progress
    this.heartbeat = undefined;
    this.reconnectTimer = undefined;
  }

  /** Adds a handler; `fn(...args)` for server events, see the class comment for lifecycle events. */
  on(event, fn) {
    const list = this.handlers.get(event);
    if (list) list.push(fn);
    else this.handlers.set(event, [fn]);
    return this;
  }

  off(event, fn) {
    const list = this.handlers.get(event);
    if (list) this.handlers.set(event, list.filter((h) => h !== fn));
    return this;
  }

  /**
   * Opens the WebSocket and connects to "/". Resolves with the Socket.IO session id on `40`; rejects
   * with a {@link SocketIoError}: `code` is the server's `data.code` for a refused handshake, else
   * `TIMEOUT` or `TRANSPORT` (the WebSocket failed or closed first).
   */
  connect() {
    if (this.pending) return this.pending.promise;
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    const pending = {};
    pending.promise = new Promise((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    pending.timer = setTimeout(() => this.failConnect(new SocketIoError("TIMEOUT", `no Socket.IO connect within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    this.pending = pending;
    this.open();
    return pending.promise;
  }

  /** Sends an event without an ack. Returns false (and sends nothing) while disconnected. */
  emit(event, ...args) {
    if (!this.connected) return false;
    return this.send(encodePacket(SIO.EVENT, [event, ...args]));
  }

  /**
   * Sends an event with an ack id. Resolves with the ack's first argument (parley answers
   * `{ ok, … }`); rejects with `TIMEOUT` after `timeoutMs`, or `DISCONNECTED` when the connection
   * ends first, as socket.io-client's `timeout(ms).emitWithAck()` does. When `timing` is given, its
   * `sentAt` and `ackAt` are set (ms; `ackAt` when k6 read the ack's frame).
   */
  emitWithAck(event, payload, timeoutMs = 10_000, timing = undefined) {
    if (!this.connected) return Promise.reject(new SocketIoError("DISCONNECTED", `not connected: ${event} not sent`));
    const id = this.nextAckId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new SocketIoError("TIMEOUT", `no ack for ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, { resolve, reject, timer, event, timing });
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
    ws.addEventListener("message", (e) => {
      if (this.ws !== ws) return;
      try {
        this.onFrame(e.data, e.timestamp);
      } catch (err) {
        // A throwing listener makes k6 close the socket; keep the connection and report instead.
        console.error(`socket.io: cannot handle frame ${String(e.data).slice(0, 80)}: ${err}`);
      }
    });
    ws.addEventListener("error", (e) => {
      if (this.ws === ws && this.pending) this.failConnect(new SocketIoError("TRANSPORT", String(e.error)));
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

  onFrame(text, timestamp) {
    this.receivedAt = timestamp || Date.now();
    const frame = decodeFrame(text);
    switch (frame.eio) {
      case EIO.MESSAGE:
        return this.onPacket(frame);
      case EIO.PING:
        this.send(EIO.PONG);
        return this.armHeartbeat();
      case EIO.OPEN:
        // `40` went out with the WebSocket's open event (see the module comment).
        this.sid = frame.data.sid;
        this.pingWindowMs = frame.data.pingInterval + frame.data.pingTimeout;
        this.maxPayload = frame.data.maxPayload ?? Infinity;
        return this.armHeartbeat();
      case EIO.CLOSE:
        this.teardown("transport close");
        return this.scheduleReconnect();
      default:
        return undefined; // NOOP, UPGRADE, PONG: nothing to do over a WebSocket-only session
    }
  }

  onPacket({ type, nsp, id, data }) {
    if (nsp !== "/") return;
    switch (type) {
      case SIO.EVENT: {
        const [event, ...args] = data;
        if (id !== undefined) args.push((...answer) => this.send(encodePacket(SIO.ACK, answer, id)));
        return this.dispatch(event, args);
      }
      case SIO.ACK: {
        const ack = this.acks.get(id);
        if (!ack) return undefined; // answered after its timeout
        this.acks.delete(id);
        clearTimeout(ack.timer);
        if (ack.timing) ack.timing.ackAt = this.receivedAt;
        return ack.resolve(data[0]);
      }
      case SIO.CONNECT: {
        this.connected = true;
        this.socketId = data && data.sid;
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
        const code = (data && data.data && data.data.code) || "CONNECT_ERROR";
        // Socket.IO does not retry a refused handshake: neither do we.
        this.closedByUser = true;
        return this.failConnect(new SocketIoError(code, (data && data.message) || "connection refused"));
      }
      case SIO.DISCONNECT:
        this.teardown("io server disconnect");
        return undefined; // the server meant it: no reconnection, as in socket.io-client
      default:
        return undefined;
    }
  }

  dispatch(event, args) {
    const list = this.handlers.get(event);
    if (!list) return;
    for (const fn of list) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`socket.io: handler of ${event} threw: ${err && err.stack ? err.stack : err}`);
      }
    }
  }

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

  /** Closes the WebSocket and fails what waits on it; `reason` set: a connection was lost. */
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

/** Connects a new client; resolves once connected, rejects like {@link SocketIoClient.connect}. */
export function connectSocket(url, options) {
  const client = new SocketIoClient(url, options);
  return client.connect().then(() => client);
}
