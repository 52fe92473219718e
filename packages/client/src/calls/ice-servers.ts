/**
 * The ICE servers of calls (`client.calls.iceServers()`), from `GET /api/calls/ice-servers`: cached
 * until shortly before their TURN credentials expire, and shared by concurrent callers, so that every
 * call does not cost a request.
 */
import type { IceServer, IceServerList } from "@parley/protocol";

import type { RestClient } from "../rest.js";

/** How long before `expiresAt` the servers are asked for again: at most this, at most half their life. */
export const ICE_REFRESH_MARGIN_MS = 60_000;
/** How long servers without an expiry (no TURN credentials) are kept: the server's settings may change. */
export const ICE_MAX_AGE_MS = 10 * 60_000;

/** The REST call of the ICE servers. */
export interface CallsApi {
  /** `GET /api/calls/ice-servers`. */
  iceServers(): Promise<IceServerList>;
}

/** {@link CallsApi} on the typed REST client. */
export function restCallsApi(rest: RestClient): CallsApi {
  return { iceServers: () => rest.call("calls.iceServers", {}) };
}

/** The ICE servers of one client. */
export class IceServers {
  private cached: { list: Promise<IceServerList>; staleAt?: number } | undefined;

  constructor(
    private readonly api: CallsApi,
    private readonly now: () => number = Date.now,
  ) {}

  /** The servers to give `RTCPeerConnection` now; a failure is not kept (the next call asks again). */
  async get(): Promise<IceServer[]> {
    const held = this.cached;
    if (held && (held.staleAt === undefined || held.staleAt > this.now())) return (await held.list).iceServers;
    const asked = this.now();
    const entry: { list: Promise<IceServerList>; staleAt?: number } = { list: this.api.iceServers() };
    this.cached = entry;
    try {
      const list = await entry.list;
      const expiresAt = list.expiresAt === undefined ? undefined : Date.parse(list.expiresAt);
      entry.staleAt = expiresAt === undefined ? asked + ICE_MAX_AGE_MS : expiresAt - Math.min(ICE_REFRESH_MARGIN_MS, Math.max(0, expiresAt - asked) / 2);
      return list.iceServers;
    } catch (err) {
      if (this.cached === entry) this.cached = undefined;
      throw err;
    }
  }

  /** Forgets the servers. */
  clear(): void {
    this.cached = undefined;
  }
}
