/**
 * The protocol version, `major.minor`. A client sends it in the handshake (`auth.protocol`) and
 * `session:ready` answers with the server's. Minor versions only add (events, optional fields, error
 * codes a client already handles as unknown); a new major version may change or remove, and a server
 * refuses clients of a major version it does not speak with `connect_error` code `UNSUPPORTED_PROTOCOL`.
 * A client that sends no version is taken to speak the server's current major.
 */
export const PROTOCOL_VERSION = "1.2";

/** Major versions this package's server side accepts. */
export const SUPPORTED_PROTOCOL_MAJORS: readonly number[] = [1];

/** The major version of a `major.minor` string, or undefined when it is not one. */
export function protocolMajor(version: string): number | undefined {
  const match = /^(\d{1,4})\.(\d{1,4})$/.exec(version);
  return match ? Number(match[1]) : undefined;
}

/** Whether a server of this package speaks the protocol `version` a client announced. */
export function isSupportedProtocol(version: string): boolean {
  const major = protocolMajor(version);
  return major !== undefined && SUPPORTED_PROTOCOL_MAJORS.includes(major);
}
