/**
 * The types of the k6 Socket.IO client (socketio.js): its events, typed from the event maps of
 * `@parley/protocol`, and its options. Only type-checking reads this module; it exports no value.
 */

/** @import { SocketIoError } from "./socketio.js" */

/** @typedef {import("@parley/protocol").ClientToServerEvents} ClientToServerEvents */
/** @typedef {import("@parley/protocol").ServerToClientEvents} ServerToClientEvents */
/**
 * @template {keyof ClientToServerEvents} E
 * @typedef {import("@parley/protocol").EventPayload<E>} EventPayload
 */
/**
 * What the ack of client event `E` carries: `{ ok: true, …result }` or `{ ok: false, error }`.
 *
 * @template {keyof ClientToServerEvents} E
 * @typedef {import("@parley/protocol").AckResponse<import("@parley/protocol").EventResult<E>>} EventAck
 */

/**
 * The client's own events, besides the server's.
 *
 * @typedef {object} LifecycleEvents
 * @property {() => void} connect after `40`
 * @property {(err: SocketIoError) => void} connect_error the handshake failed or was refused
 * @property {(reason: string) => void} disconnect a connection was lost or closed
 * @property {(attempt: number) => void} reconnect connected again after `attempt` tries
 */
/** @typedef {ServerToClientEvents & LifecycleEvents} ClientEvents */
/** @typedef {(...args: never[]) => void} Handler */

/**
 * Reconnection after an unexpected close: exponential backoff from `delayMs` up to `maxDelayMs`, with
 * jitter, at most `attempts` times.
 *
 * @typedef {object} ReconnectionPolicy
 * @property {number} [delayMs] first delay (ms), 500 by default
 * @property {number} [maxDelayMs] longest delay (ms), 5000 by default
 * @property {number} [attempts] Infinity by default
 */

/**
 * Options of a {@link SocketIoClient}.
 *
 * @typedef {object} SocketIoOptions
 * @property {import("@parley/protocol").HandshakeAuth} [auth] handshake `auth` object, e.g.
 *   `handshakeAuth(token)` (protocol.js).
 * @property {Record<string, string>} [headers] extra headers of the WebSocket upgrade request.
 * @property {Record<string, string>} [tags] k6 tags of the WebSocket's built-in metrics.
 * @property {number} [connectTimeoutMs] longest wait for `40`, 10000 by default.
 * @property {false | ReconnectionPolicy} [reconnection] reconnect after an unexpected close; off by
 *   default.
 */

/**
 * When an acked event went out and when k6 read its ack (ms), set by {@link SocketIoClient.emitWithAck}.
 *
 * @typedef {object} AckTiming
 * @property {number} [sentAt]
 * @property {number} [ackAt]
 */

/**
 * An ack waited for.
 *
 * @typedef {object} PendingAck
 * @property {(answer: unknown) => void} resolve
 * @property {(err: SocketIoError) => void} reject
 * @property {import("k6/timers").TimeoutID} timer
 * @property {string} event
 * @property {AckTiming | undefined} timing
 */

/**
 * The connect() in progress.
 *
 * @typedef {object} PendingConnect
 * @property {Promise<string | undefined>} promise resolves with the Socket.IO session id
 * @property {(sid: string | undefined) => void} resolve
 * @property {(err: SocketIoError) => void} reject
 * @property {import("k6/timers").TimeoutID} timer
 */

export {};
