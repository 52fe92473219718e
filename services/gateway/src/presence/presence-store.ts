/**
 * Presence state in Redis. Each script touches one user's keys only (`{u:<id>}`), so counting a user's
 * devices across gateways is atomic and works on Redis Cluster:
 *
 * - `userConnections(u)`: hash `<node>|<socketId>` → connected-at ms; the user is online iff it is not empty.
 * - `userLastSeen(u)`: ISO time the last socket went away, set in the step that empties the hash.
 * - `presenceNodes()`: sorted set of live gateway nodes → last heartbeat (Redis clock, ms).
 * - `nodeUsers(node)`: users with a socket on `node`, so that a dead node's sockets can be found.
 *
 * A "node" here is one incarnation of a gateway process (`<NODE_ID>~<random>`): a process that finds it
 * was declared dead (it stalled past the TTL) re-registers its sockets under a new incarnation, so a
 * reaper still cleaning up the old one can never remove the new registrations.
 */
import { Script, type RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";

/**
 * Adds a socket. Returns [1 if the user just came online else 0, previous lastSeen or false].
 * KEYS: connections, last seen. ARGV: field, connected-at ms.
 */
const connectScript = new Script<[number, string | null]>(
  "presence-connect",
  `
local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local online = 0
if added == 1 and redis.call('HLEN', KEYS[1]) == 1 then online = 1 end
return { online, redis.call('GET', KEYS[2]) }
`,
);

/**
 * Removes a socket; when it was the user's last one, records lastSeen. Returns 1 if the user went offline.
 * KEYS: connections, last seen. ARGV: field, now (ISO).
 */
const disconnectScript = new Script<number>(
  "presence-disconnect",
  `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`,
);

/**
 * Removes every socket of one node from a user; when none is left, records lastSeen.
 * Returns [1 if the user went offline else 0, ids of the removed sockets…], leaving out a socket that is
 * still registered under another incarnation of its process (re-registered: it is alive).
 * KEYS: connections, last seen. ARGV: field prefix (`<node>|`), now (ISO).
 */
const reapUserScript = new Script<[number, ...string[]]>(
  "presence-reap-user",
  `
local removed, alive = {}, {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local socket = string.match(field, '|(.*)$') or field
  if string.sub(field, 1, #ARGV[1]) == ARGV[1] then removed[#removed + 1] = field else alive[socket] = true end
end
if #removed == 0 then return { 0 } end
local offline, gone = 0, {}
for _, field in ipairs(removed) do
  redis.call('HDEL', KEYS[1], field)
  local socket = string.sub(field, #ARGV[1] + 1)
  if not alive[socket] then gone[#gone + 1] = socket end
end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SET', KEYS[2], ARGV[2])
  offline = 1
end
return { offline, unpack(gone) }
`,
);

/**
 * Registers a node (ZADD with Redis's clock). Returns the heartbeat written.
 * KEYS: nodes. ARGV: node.
 */
const registerNodeScript = new Script<number>(
  "presence-register-node",
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
`,
);

/**
 * Renews a node's heartbeat, but only if it still holds the heartbeat this node wrote last: if it is
 * gone or changed, a reaper has claimed the node, and -1 tells the node to re-register as a new
 * incarnation. Returns the heartbeat written.
 * KEYS: nodes. ARGV: node, previous heartbeat.
 */
const heartbeatScript = new Script<number>(
  "presence-heartbeat",
  `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
`,
);

/**
 * Claims nodes whose heartbeat is older than the TTL: each is given a lease (its score is moved so that
 * it looks alive for `lease` ms), so only one reaper handles it, and a reaper that dies mid-way is
 * replaced once the lease runs out. Returns the claimed nodes.
 * KEYS: nodes. ARGV: ttl ms, lease ms, limit.
 */
const claimDeadNodesScript = new Script<string[]>(
  "presence-claim-dead-nodes",
  `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - tonumber(ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[3]))
for _, node in ipairs(dead) do redis.call('ZADD', KEYS[1], cutoff + tonumber(ARGV[2]), node) end
return dead
`,
);

/**
 * Extends a reaper's lease on a node it is still cleaning up (a large node can take longer than one lease).
 * KEYS: nodes. ARGV: node, ttl ms, lease ms.
 */
const renewClaimScript = new Script<number>(
  "presence-renew-claim",
  `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now - tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return 1
`,
);

/** A socket of a user, as presence records it. */
export interface SocketRef {
  userId: string;
  socketId: string;
}

export class PresenceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** The connections-hash field of a socket on a node. */
  static field(node: string, socketId: string): string {
    return `${node}|${socketId}`;
  }

  /** Records that `userId` has a socket on `node` (before the socket itself, so a reaper finds it). */
  async addNodeUser(node: string, userId: string): Promise<void> {
    await this.redis.sadd(this.keys.nodeUsers(node), userId);
  }

  async removeNodeUser(node: string, userId: string): Promise<void> {
    await this.redis.srem(this.keys.nodeUsers(node), userId);
  }

  /** Adds a socket; `online` is true when it is the user's first, with the lastSeen it ends. */
  async connect(node: string, { userId, socketId }: SocketRef): Promise<{ online: boolean; lastSeen: string | null }> {
    const [online, lastSeen] = await connectScript.run(
      this.redis,
      [this.keys.userConnections(userId), this.keys.userLastSeen(userId)],
      [PresenceStore.field(node, socketId), Date.now()],
    );
    return { online: online === 1, lastSeen: lastSeen ?? null };
  }

  /** Removes a socket; true when it was the user's last one (lastSeen is then `now`). */
  async disconnect(node: string, { userId, socketId }: SocketRef, now: Date): Promise<boolean> {
    const offline = await disconnectScript.run(
      this.redis,
      [this.keys.userConnections(userId), this.keys.userLastSeen(userId)],
      [PresenceStore.field(node, socketId), now.toISOString()],
    );
    return offline === 1;
  }

  /**
   * Removes every socket `node` had for `userId`: whether the user went offline, and which sockets are gone
   * (not those re-registered by a later incarnation of the same process).
   */
  async reapUser(node: string, userId: string, now: Date): Promise<{ offline: boolean; socketIds: string[] }> {
    const [offline, ...socketIds] = await reapUserScript.run(
      this.redis,
      [this.keys.userConnections(userId), this.keys.userLastSeen(userId)],
      [`${node}|`, now.toISOString()],
    );
    return { offline: offline === 1, socketIds };
  }

  /** Adds `node` to the live nodes; returns its heartbeat (Redis clock). */
  async registerNode(node: string): Promise<number> {
    return registerNodeScript.run(this.redis, [this.keys.presenceNodes()], [node]);
  }

  /** Renews `node`'s heartbeat; undefined when the node was claimed by a reaper meanwhile. */
  async heartbeat(node: string, previous: number): Promise<number | undefined> {
    const beat = await heartbeatScript.run(this.redis, [this.keys.presenceNodes()], [node, previous]);
    return beat < 0 ? undefined : beat;
  }

  /** Claims up to `limit` nodes whose heartbeat is older than `ttlMs`, for `leaseMs`. */
  async claimDeadNodes(ttlMs: number, leaseMs: number, limit: number): Promise<string[]> {
    return claimDeadNodesScript.run(this.redis, [this.keys.presenceNodes()], [ttlMs, leaseMs, limit]);
  }

  /** Extends the lease of a claimed node by `leaseMs` from now. */
  async renewClaim(node: string, ttlMs: number, leaseMs: number): Promise<void> {
    await renewClaimScript.run(this.redis, [this.keys.presenceNodes()], [node, ttlMs, leaseMs]);
  }

  /** The users recorded on `node`, in batches (SSCAN, so a large set never blocks Redis). */
  async *nodeUsers(node: string, batchSize = 200): AsyncGenerator<string[]> {
    let cursor = "0";
    do {
      const [next, users] = await this.redis.sscan(this.keys.nodeUsers(node), cursor, "COUNT", batchSize);
      cursor = next;
      if (users.length > 0) yield users;
    } while (cursor !== "0");
  }

  /**
   * Forgets a node that has been cleaned up. Its user set goes first: a reaper dying in between leaves
   * a listed node with no users, which the next reaper claims and removes, never the reverse (users of
   * a node nobody would look at again).
   */
  async removeNode(node: string): Promise<void> {
    await this.redis.del(this.keys.nodeUsers(node));
    await this.redis.zrem(this.keys.presenceNodes(), node);
  }
}
