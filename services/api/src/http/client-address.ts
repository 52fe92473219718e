/**
 * The client address that per-address limits are keyed on: Express's `req.ip`, which follows
 * `X-Forwarded-For` only through the proxies `TRUST_PROXY` names, narrowed to what one client controls.
 */
import { isIPv4, isIPv6 } from "node:net";

import type { Request } from "express";

/**
 * `address` as one client's scope: an IPv4 address as itself (also when written IPv4-mapped, as
 * `::ffff:192.0.2.1`), an IPv6 address as its /64 network, since one host or customer usually holds a
 * whole /64 and could otherwise take a fresh address for every attempt. Anything else (no address at
 * all) is returned as it is.
 */
export function addressScope(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  const unscoped = address.replace(/%.*$/, "");
  if (!isIPv6(unscoped)) return address;
  return `${expandIPv6(unscoped).slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, lowercase, without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...middle, ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/** The scope ({@link addressScope}) of the client that sent `req`. */
export function clientAddress(req: Request): string {
  return addressScope(req.ip ?? req.socket.remoteAddress ?? "unknown");
}
