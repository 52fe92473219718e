/**
 * Revoked sessions, as every API and gateway process sees them: one Redis key per revoked session, kept
 * until every access token that session was issued has expired. A request or a handshake checks its
 * token's session with one `EXISTS`; no MongoDB read.
 *
 * The MongoDB session document is the lasting record (its refresh token stops working); the Redis key is
 * what makes the session's outstanding access tokens stop working everywhere at once. A Redis that loses
 * its data forgets these keys: the access tokens of sessions revoked before then work again until they
 * expire (at most the access-token lifetime), while their refresh tokens stay refused.
 */
import { UnavailableError } from "../errors.js";
import type { RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";

/** How long past its access-token lifetime a revocation is kept, for clock skew between processes. */
const REVOCATION_MARGIN_SECONDS = 60;

export class SessionRevocations {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * Whether `sessionId` of `userId` was revoked.
   * @throws {UnavailableError} when Redis cannot answer: a token is never accepted unchecked.
   */
  async isRevoked(userId: string, sessionId: string): Promise<boolean> {
    try {
      return (await this.redis.exists(this.keys.sessionRevoked(userId, sessionId))) === 1;
    } catch (err) {
      throw new UnavailableError("Session check unavailable, retry shortly", { cause: err, retryAfterMs: 1000 });
    }
  }

  /**
   * Records that `sessionIds` of `userId` are revoked, for the lifetime of the access tokens they could
   * have been issued (`accessTokenTtlSeconds`) and a margin.
   */
  async record(userId: string, sessionIds: readonly string[], accessTokenTtlSeconds: number): Promise<void> {
    if (sessionIds.length === 0) return;
    const ttl = accessTokenTtlSeconds + REVOCATION_MARGIN_SECONDS;
    // Every key is in the user's slot: one transaction, one round trip, on a Redis Cluster too.
    const multi = this.redis.multi();
    for (const sessionId of sessionIds) multi.set(this.keys.sessionRevoked(userId, sessionId), "1", "EX", ttl);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err)?.[0];
    if (!results || failed) throw failed ?? new Error("revocation transaction aborted");
  }
}
