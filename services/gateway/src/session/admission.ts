/**
 * Which sockets may join the cluster, decided in Redis at every handshake, in one script on the user's
 * slot: the token's session must not be revoked, and the user must have fewer than
 * `MAX_SOCKETS_PER_USER` sockets connected across every gateway.
 *
 * Each admitted socket holds a lease in the user's sorted set (`userSockets`: socket id → expiry on
 * Redis's clock). Its gateway removes it when the socket disconnects and renews the leases of its live
 * sockets well before they lapse, so the sockets of a gateway that died stop counting once their leases
 * run out, with no clean-up job.
 */
import { Script, type RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";

/** How long a socket's place counts without renewal: the longest a dead gateway's sockets keep theirs. */
export const SOCKET_LEASE_MS = 10 * 60_000;

/** What {@link SocketAdmission.admit} decides. */
export type AdmissionDecision = "OK" | "REVOKED" | "FULL";

const NOW_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * KEYS: the session's revocation, the user's sockets. ARGV: socket id, lease ms, most sockets (0: no limit).
 * Returns 'OK' (the socket holds a lease now), 'REVOKED' or 'FULL'.
 */
const admitScript = new Script<AdmissionDecision>(
  "admit-socket",
  `${NOW_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return 'REVOKED' end
local max = tonumber(ARGV[3])
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= max then return 'FULL' end
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 'OK'
`,
);

/**
 * Renews the leases of a user's sockets on this gateway, those still listed (a socket whose lease
 * lapsed is not given a new one: it would count twice after a restart of this process).
 * KEYS: the user's sockets. ARGV: lease ms, socket ids…
 */
const renewScript = new Script<number>(
  "renew-sockets",
  `${NOW_LUA}
local renewed = 0
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i]) == 1 then renewed = renewed + 1 end
end
if renewed > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return renewed
`,
);

export class SocketAdmission {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** Most sockets per user across the cluster; 0 for no limit. */
    private readonly maxSocketsPerUser: number,
    private readonly leaseMs = SOCKET_LEASE_MS,
  ) {}

  /** Admits `socketId` of `userId`'s session `sessionId`, taking a lease, unless revoked or full. */
  async admit(userId: string, sessionId: string, socketId: string): Promise<AdmissionDecision> {
    return admitScript.run(
      this.redis,
      [this.keys.sessionRevoked(userId, sessionId), this.keys.userSockets(userId)],
      [socketId, this.leaseMs, this.maxSocketsPerUser],
    );
  }

  /** Gives up the lease of a socket that disconnected. */
  async release(userId: string, socketId: string): Promise<void> {
    await this.redis.zrem(this.keys.userSockets(userId), socketId);
  }

  /** Renews the leases of `socketIds`, all of `userId`. */
  async renew(userId: string, socketIds: readonly string[]): Promise<void> {
    if (socketIds.length === 0) return;
    await renewScript.run(this.redis, [this.keys.userSockets(userId)], [this.leaseMs, ...socketIds]);
  }

  /** How often a gateway renews its sockets' leases: three times per lease. */
  get renewIntervalMs(): number {
    return Math.floor(this.leaseMs / 3);
  }
}
