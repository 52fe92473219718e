/**
 * The addresses each user logged in from successfully (or registered from), kept in Redis so that every
 * API process knows them: a login from one of them skips the per-username bucket, so that strangers'
 * guesses from elsewhere cannot lock the owner out.
 *
 * Addresses are never stored: each entry is a keyed digest (HMAC-SHA256 under a key derived from the
 * server secret) of the user id and the address, so the set reveals neither the addresses (an IPv4
 * address cannot be found by trying all 2^32 without the key) nor that two users share one.
 */
import { createHmac } from "node:crypto";

import { Script, type RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";

/** Options of {@link KnownAddresses}. */
export interface KnownAddressesOptions {
  redis: RedisClient;
  keys: RedisKeys;
  /** The secret the digests are keyed with (derived from, not used as is). */
  secret: string;
  /**
   * Addresses kept per user: the most recent ones.
   * @default 20
   */
  keep?: number;
  /**
   * Age after which an address is forgotten, in milliseconds.
   * @default 7776000000 (90 days)
   */
  maxAgeMs?: number;
}

const DAY_MS = 24 * 3600 * 1000;

const NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * Records an address digest at Redis's time, drops entries older than the maximum age and all but the
 * most recent `keep`, and sets the set to expire with its newest entry.
 *
 * KEYS: the user's set. ARGV: digest, keep, max age in ms.
 */
const rememberScript = new Script<number>(
  "known-address-remember",
  `
if redis.replicate_commands then redis.replicate_commands() end
${NOW_MS}
local keep = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - maxAge))
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(keep + 1))
redis.call('PEXPIRE', KEYS[1], maxAge)
return 1
`,
);

/**
 * 1 when the digest is in the set and not older than the maximum age (on Redis's clock), else 0.
 *
 * KEYS: the user's set. ARGV: digest, max age in ms.
 */
const hasScript = new Script<number>(
  "known-address-has",
  `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
${NOW_MS}
if tonumber(score) >= now - tonumber(ARGV[2]) then return 1 end
return 0
`,
);

/** Each user's recent login addresses, as digests; see the module comment. */
export class KnownAddresses {
  private readonly key: Buffer;
  private readonly keep: number;
  private readonly maxAgeMs: number;

  constructor(private readonly options: KnownAddressesOptions) {
    this.key = createHmac("sha256", options.secret).update("parley:login-addresses").digest();
    this.keep = options.keep ?? 20;
    this.maxAgeMs = options.maxAgeMs ?? 90 * DAY_MS;
  }

  /** The digest stored for `address` in `userId`'s set. */
  digest(userId: string, address: string): string {
    return createHmac("sha256", this.key).update(`${userId}\u0000${address}`).digest("base64url");
  }

  /** Whether `userId` logged in from `address` within the maximum age. @throws whatever Redis throws. */
  async has(userId: string, address: string): Promise<boolean> {
    const found = await hasScript.run(this.options.redis, [this.options.keys.userLoginAddresses(userId)], [this.digest(userId, address), this.maxAgeMs]);
    return found === 1;
  }

  /** Records a successful login (or the registration) of `userId` from `address`. @throws whatever Redis throws. */
  async remember(userId: string, address: string): Promise<void> {
    await rememberScript.run(
      this.options.redis,
      [this.options.keys.userLoginAddresses(userId)],
      [this.digest(userId, address), this.keep, this.maxAgeMs],
    );
  }
}
