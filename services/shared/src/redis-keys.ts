/**
 * Every Redis key parley owns, in one place. Keys are grouped by hash tag so that each Lua script only
 * touches one slot on a Redis Cluster: `{c:<id>}` for a conversation, `{u:<id>}` for a user, `{n:<node>}`
 * for a gateway node, `{call:<id>}` for a call, `{rl:<subject>}` for the rate limits of a user or a digest.
 */

/** Key builders bound to a prefix ({@link baseConfigShape}`.REDIS_PREFIX`). */
export interface RedisKeys {
  /** Last allocated message seq of a conversation (string counter). Never expires. */
  conversationSeq(conversationId: string): string;
  /** Cached member ids of a conversation (set); absent while empty. Cached at all iff its version key exists. */
  conversationMembers(conversationId: string): string;
  /** Version of the cached member set (string), so a stale load can never overwrite a newer one. */
  conversationMembersVersion(conversationId: string): string;
  /** Recent messages of a conversation (stream, entry id `<seq>-0`, field `m` = message JSON as sent). */
  conversationStream(conversationId: string): string;
  /** Latest state of recently changed messages (hash: message id → message JSON), newer than the stream's. */
  conversationOverlay(conversationId: string): string;
  /**
   * Recent messages the worker has stored in MongoDB (sorted set: message id, scored by seq; the newest
   * few thousand, expiring with the stream), so that `sync` and history can say which are stored.
   */
  conversationStored(conversationId: string): string;
  /**
   * The conversation's epoch (hash: `id`, `base`): a new id whenever its seq counter had to be restored
   * from MongoDB (Redis lost it); `base` is the seq the epoch started after.
   */
  conversationEpoch(conversationId: string): string;
  /** Read pointers (hash: user id → seq). */
  conversationRead(conversationId: string): string;
  /** Delivery pointers (hash: user id → seq). */
  conversationDelivered(conversationId: string): string;
  /** The message a sender's clientMsgId produced (string, message JSON, with a TTL). */
  clientMsgId(conversationId: string, senderId: string, clientMsgId: string): string;
  /**
   * Cached ids of the conversations a user is a member of (set, with a TTL); absent while empty. Cached at
   * all iff the `loaded` field of {@link userConversationsState} is set.
   */
  userConversations(userId: string): string;
  /**
   * State of {@link userConversations} (hash: `loaded`, and `gen`, raised by every membership change of
   * the user, so that a load that raced a change is never cached).
   */
  userConversationsState(userId: string): string;
  /** A user's live sockets (hash: `<node>|<socketId>` → connected-at ms). Online iff not empty. */
  userConnections(userId: string): string;
  /** When the user's last socket disconnected (string, ISO). */
  userLastSeen(userId: string): string;
  /** The call a user is in or being called to (string: call id, with a TTL). */
  userCall(userId: string): string;
  /** Gateway nodes and their last heartbeat (sorted set: node → ms). */
  presenceNodes(): string;
  /** Users with at least one socket on a node (set), for cleaning up after a node that died. */
  nodeUsers(node: string): string;
  /** One call's state (hash). */
  call(callId: string): string;
  /** Ringing calls and when they become missed (sorted set: call id → ms). */
  ringingCalls(): string;
  /**
   * Whether a direct conversation is blocked (string `1`; absent when not): one of its two members
   * blocks the other. Written with the member set, under the same version.
   */
  conversationBlocked(conversationId: string): string;
  /**
   * A revoked session (string, with a TTL of at least the access tokens' lifetime): its access tokens
   * are refused from then on, on REST and on sockets.
   */
  sessionRevoked(userId: string, sessionId: string): string;
  /**
   * A user's live sockets across the cluster, for `MAX_SOCKETS_PER_USER` (sorted set: socket id → lease
   * expiry ms; gateways renew the leases of their sockets, so a dead gateway's lapse).
   */
  userSockets(userId: string): string;
  /**
   * The users with whom a user has a block, in either direction (set); absent while empty. Cached at all
   * iff {@link userBlocksVersion} exists.
   */
  userBlocks(userId: string): string;
  /** Version of the cached {@link userBlocks} (string), so a stale load can never overwrite a newer one. */
  userBlocksVersion(userId: string): string;
  /**
   * Addresses a user logged in from successfully (sorted set: address digest → last login ms), exempt
   * from the per-username login limit.
   */
  userLoginAddresses(userId: string): string;
  /** A token bucket for one kind of action (hash: tokens, ts); the subject is a user id or a digest. */
  rateLimit(subject: string, action: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  const conversation = (id: string) => `${prefix}:{c:${id}}`;
  const user = (id: string) => `${prefix}:{u:${id}}`;
  return {
    conversationSeq: (id) => `${conversation(id)}:seq`,
    conversationMembers: (id) => `${conversation(id)}:members`,
    conversationMembersVersion: (id) => `${conversation(id)}:members:v`,
    conversationStream: (id) => `${conversation(id)}:stream`,
    conversationOverlay: (id) => `${conversation(id)}:overlay`,
    conversationStored: (id) => `${conversation(id)}:stored`,
    conversationEpoch: (id) => `${conversation(id)}:epoch`,
    conversationRead: (id) => `${conversation(id)}:read`,
    conversationDelivered: (id) => `${conversation(id)}:delivered`,
    clientMsgId: (id, senderId, clientMsgId) => `${conversation(id)}:cmid:${senderId}:${clientMsgId}`,
    userConversations: (id) => `${user(id)}:convs`,
    userConversationsState: (id) => `${user(id)}:convs:state`,
    userConnections: (id) => `${user(id)}:conns`,
    userLastSeen: (id) => `${user(id)}:seen`,
    userCall: (id) => `${user(id)}:call`,
    presenceNodes: () => `${prefix}:presence:nodes`,
    nodeUsers: (node) => `${prefix}:{n:${node}}:users`,
    call: (id) => `${prefix}:{call:${id}}`,
    ringingCalls: () => `${prefix}:calls:ringing`,
    conversationBlocked: (id) => `${conversation(id)}:blocked`,
    sessionRevoked: (id, sessionId) => `${user(id)}:session:${sessionId}:revoked`,
    userSockets: (id) => `${user(id)}:sockets`,
    userBlocks: (id) => `${user(id)}:blocks`,
    userBlocksVersion: (id) => `${user(id)}:blocks:v`,
    userLoginAddresses: (id) => `${user(id)}:login-addresses`,
    rateLimit: (subject, action) => `${prefix}:{rl:${subject}}:${action}`,
  };
}
