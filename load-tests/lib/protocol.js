/**
 * The parley protocol version the load tests speak, announced in every handshake (`auth.protocol`), as
 * the SDK does. k6 scripts are plain JavaScript and import nothing from the TypeScript packages, so the
 * version is written here once; test/load/protocol-version.test.ts fails when it differs from
 * `PROTOCOL_VERSION` of `@parley/protocol`.
 */
export const PROTOCOL_VERSION = "1.2";

/**
 * The handshake `auth` object of a socket that presents the access token `token`.
 *
 * @param {string} token
 * @returns {import("@parley/protocol").HandshakeAuth}
 */
export function handshakeAuth(token) {
  return { token, protocol: PROTOCOL_VERSION };
}
