/**
 * The frames of Engine.IO protocol 4 and Socket.IO protocol 5, as the k6 Socket.IO client
 * (socketio.js) writes and reads them.
 *
 * The frames, all text (parley sends no binary attachments):
 *
 *   server → client  0{"sid","pingInterval","pingTimeout","maxPayload"}   Engine.IO open
 *   server → client  2                 ping; the client answers 3 (Engine.IO 4: the server pings)
 *   client → server  40{"token":"…","protocol":"1.2"}   Socket.IO CONNECT to "/" with the `auth` object
 *   server → client  40{"sid":"…"}     connected
 *   server → client  44{"message","data":{"code"}}   CONNECT_ERROR: the handshake was refused
 *   either way       42["event",arg…]  EVENT;  42<id>["event",arg…]: an event that wants an ack
 *   either way       43<id>[arg…]      ACK of the event sent with that id
 *   either way       41                DISCONNECT from the namespace;  1: Engine.IO close
 *
 * A namespace other than "/" sits between the type and the id (`42/admin,7["event"]`); the parser
 * understands it, the client only talks to "/".
 */

/** Engine.IO packet types: the first character of every frame. */
export const EIO = { OPEN: "0", CLOSE: "1", PING: "2", PONG: "3", MESSAGE: "4", UPGRADE: "5", NOOP: "6" };

/** Socket.IO packet types: the character after Engine.IO's `4`. */
export const SIO = { CONNECT: 0, DISCONNECT: 1, EVENT: 2, ACK: 3, CONNECT_ERROR: 4, BINARY_EVENT: 5, BINARY_ACK: 6 };

/**
 * The data of the Engine.IO open packet (`0{…}`).
 *
 * @typedef {object} OpenPacket
 * @property {string} sid
 * @property {number} pingInterval
 * @property {number} pingTimeout
 * @property {number} [maxPayload]
 */

/**
 * An Engine.IO packet other than a message: `data` is the {@link OpenPacket} of an open packet with
 * data, else the text after the type.
 *
 * @typedef {object} EngineFrame
 * @property {string} eio
 * @property {OpenPacket | string} data
 */

/**
 * A Socket.IO packet inside an Engine.IO message (`eio` is `4`); `data` is its parsed JSON.
 *
 * @typedef {object} PacketFrame
 * @property {string} eio
 * @property {number} type
 * @property {string} nsp
 * @property {number | undefined} id
 * @property {unknown} data
 */

/**
 * `http://host[:port][/base]` → `ws://host[:port][/base]/socket.io/?EIO=4&transport=websocket`.
 *
 * @param {string} base
 * @param {string} [path]
 */
export function socketUrl(base, path = "/socket.io/") {
  const origin = base.replace(/^http(s?):\/\//, "ws$1://").replace(/\/+$/, "");
  return `${origin}${path}?EIO=4&transport=websocket`;
}

/**
 * The text of a Socket.IO packet inside an Engine.IO message: `4` + type + [nsp,] + [id] + JSON.
 *
 * @param {number} type one of {@link SIO}
 * @param {unknown} [data]
 * @param {number} [id]
 * @param {string} [nsp]
 */
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
 *
 * @param {string} text
 * @returns {EngineFrame | PacketFrame}
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
