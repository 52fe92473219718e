/**
 * Per-user rate limits shared by the whole cluster: one token bucket per (user, action) in Redis, refilled
 * and taken in one Lua script on Redis time, so every gateway and API process sees the same bucket and
 * no process clock matters.
 *
 * A bucket holds at most `burst` tokens and gains `ratePerSecond` tokens per second; every event takes
 * one. An empty bucket refuses with the time until a token is back (`retryAfterMs`).
 */
import { createHash } from "node:crypto";

import { z } from "zod";

import { boolVar, intVar } from "./config.js";
import { RateLimitedError, UnavailableError } from "./errors.js";
import type { Logger } from "./logger.js";
import { Script, type RedisClient } from "./redis.js";
import type { RedisKeys } from "./redis-keys.js";

/**
 * The kinds of action with a bucket of their own, per user:
 * - `message`: `message:send`, `message:edit`, `message:delete`, `message:react`, and REST
 *   `POST /api/conversations/:id/messages` (one bucket for all of them);
 * - `typing`: `typing:start`, `typing:stop`;
 * - `call`: every `call:*` event (signaling, ICE candidates included);
 * - `sync`: `sync`;
 * - `presence`: `presence:query`;
 * - `receipt`: `conversation:delivered`, `conversation:read`;
 * - `login`: `POST /api/auth/login`, per username (not per user id), against guessing one account's
 *   password from many addresses;
 * - `login-pair`: the same, per client address and username, against guessing from one address;
 * - `login-address`: the same, per client address, against spraying many usernames;
 * - `register`: `POST /api/auth/register`, per client address;
 * - `refresh`: `POST /api/auth/refresh` per session, and `auth:refresh` per user;
 * - `search`: `GET /api/users?q=`, per user;
 * - `conversation`: creating a conversation (group, or a new direct one) and adding group members, per user;
 * - `account`: `POST /api/users/me/password`, `DELETE /api/users/me` and `GET /api/users/me/export`, per
 *   user: each checks a password or reads the whole account, so a few are allowed and then one a minute;
 * - `upload`: `POST /api/conversations/:id/attachments`, per user, `ATTACHMENT_UPLOADS_PER_MINUTE` (all
 *   of them at once, then refilled over the minute).
 */
export const RATE_ACTIONS = [
  "message",
  "typing",
  "call",
  "sync",
  "presence",
  "receipt",
  "login",
  "login-pair",
  "login-address",
  "register",
  "refresh",
  "search",
  "conversation",
  "account",
  "upload",
] as const;
export type RateAction = (typeof RATE_ACTIONS)[number];

/** One bucket's size and refill rate. */
export interface BucketLimit {
  /** Tokens added per second (may be fractional: 0.1 is one every 10 s). */
  ratePerSecond: number;
  /** Most tokens the bucket holds: how many events may come at once after a quiet period. */
  burst: number;
}

/**
 * What happens to an event when Redis cannot answer (down, or slower than the limiter's timeout).
 * - `closed`: refused with `UNAVAILABLE`. For sends, which need Redis anyway (seq, dedupe, fan-out), so
 *   the answer is the same but immediate; and for logins, where the limit is a security control.
 * - `open`: let through (logged). For everything that is harmless in excess or that must not be cut by
 *   a limiter hiccup (typing, call signaling mid-call, receipts, sync, presence): those handlers degrade
 *   by themselves if Redis is really gone.
 */
export type FailMode = "open" | "closed";

/** The failure mode of each action; see {@link FailMode}. */
export const RATE_FAIL_MODES: Readonly<Record<RateAction, FailMode>> = {
  message: "closed",
  typing: "open",
  call: "open",
  sync: "open",
  presence: "open",
  receipt: "open",
  login: "closed",
  "login-pair": "closed",
  "login-address": "closed",
  register: "closed",
  refresh: "open",
  search: "open",
  conversation: "open",
  // A password check, an account's deletion and its export are rare and costly: when the limit cannot
  // be checked they wait for Redis to come back rather than run unbounded.
  account: "closed",
  // Each upload takes storage: none unchecked.
  upload: "closed",
};

const rateVar = z.coerce.number().positive("must be a positive number of tokens per second").max(1_000_000);
const burstVar = intVar(1).max(1_000_000);

/**
 * Rate-limit settings, read by the gateway and the API (the same variables in both, since both take
 * from the same `message` buckets). `RATE_LIMIT_<ACTION>_RATE` is in tokens per second (decimals
 * allowed), `RATE_LIMIT_<ACTION>_BURST` the bucket size.
 */
export const rateLimitConfigShape = {
  /**
   * Enforce the rate limits at all. Turn off only for benchmarks.
   * @default true
   */
  RATE_LIMITS_ENABLED: boolVar.default(true),
  /**
   * Sustained messages per second per user (send, edit, delete, react, REST post).
   * @default 10
   */
  RATE_LIMIT_MESSAGE_RATE: rateVar.default(10),
  /**
   * Messages a user may send at once.
   * @default 50
   */
  RATE_LIMIT_MESSAGE_BURST: burstVar.default(50),
  /**
   * Sustained `typing:start`/`typing:stop` per second per user.
   * @default 2
   */
  RATE_LIMIT_TYPING_RATE: rateVar.default(2),
  /**
   * Typing events a user may send at once.
   * @default 10
   */
  RATE_LIMIT_TYPING_BURST: burstVar.default(10),
  /**
   * Sustained `call:*` events per second per user.
   * @default 10
   */
  RATE_LIMIT_CALL_RATE: rateVar.default(10),
  /**
   * `call:*` events at once: room for a whole round of trickled ICE candidates.
   * @default 100
   */
  RATE_LIMIT_CALL_BURST: burstVar.default(100),
  /**
   * Sustained `sync` calls per second per user.
   * @default 20
   */
  RATE_LIMIT_SYNC_RATE: rateVar.default(20),
  /**
   * `sync` calls at once: a reconnecting client may sync every conversation it has.
   * @default 300
   */
  RATE_LIMIT_SYNC_BURST: burstVar.default(300),
  /**
   * Sustained `presence:query` calls per second per user.
   * @default 2
   */
  RATE_LIMIT_PRESENCE_RATE: rateVar.default(2),
  /**
   * `presence:query` calls at once.
   * @default 20
   */
  RATE_LIMIT_PRESENCE_BURST: burstVar.default(20),
  /**
   * Sustained `conversation:delivered`/`conversation:read` per second per user.
   * @default 20
   */
  RATE_LIMIT_RECEIPT_RATE: rateVar.default(20),
  /**
   * Receipts at once.
   * @default 100
   */
  RATE_LIMIT_RECEIPT_BURST: burstVar.default(100),
  /**
   * Sustained login attempts per second per username, from all addresses together (0.05: one every
   * 20 s). Addresses the user logged in from before are exempt, so guesses from elsewhere never lock
   * the owner out there.
   * @default 0.05
   */
  RATE_LIMIT_LOGIN_RATE: rateVar.default(0.05),
  /**
   * Login attempts per username at once, from all addresses together.
   * @default 20
   */
  RATE_LIMIT_LOGIN_BURST: burstVar.default(20),
  /**
   * Sustained login attempts per second per client address and username (0.0167: one a minute).
   * @default 0.0167
   */
  RATE_LIMIT_LOGIN_PAIR_RATE: rateVar.default(1 / 60),
  /**
   * Login attempts per client address and username at once.
   * @default 5
   */
  RATE_LIMIT_LOGIN_PAIR_BURST: burstVar.default(5),
  /**
   * Sustained login attempts per second per client address, whatever the username (0.2: 12 a minute).
   * @default 0.2
   */
  RATE_LIMIT_LOGIN_ADDRESS_RATE: rateVar.default(0.2),
  /**
   * Login attempts per client address at once.
   * @default 10
   */
  RATE_LIMIT_LOGIN_ADDRESS_BURST: burstVar.default(10),
  /**
   * Sustained registrations per second per client address (0.0033: 12 an hour).
   * @default 0.0033
   */
  RATE_LIMIT_REGISTER_RATE: rateVar.default(1 / 300),
  /**
   * Registrations per client address at once.
   * @default 5
   */
  RATE_LIMIT_REGISTER_BURST: burstVar.default(5),
  /**
   * Sustained token refreshes per second, per session on REST and per user on sockets.
   * @default 0.1
   */
  RATE_LIMIT_REFRESH_RATE: rateVar.default(0.1),
  /**
   * Token refreshes at once.
   * @default 10
   */
  RATE_LIMIT_REFRESH_BURST: burstVar.default(10),
  /**
   * Sustained user searches per second per user.
   * @default 2
   */
  RATE_LIMIT_SEARCH_RATE: rateVar.default(2),
  /**
   * User searches at once.
   * @default 30
   */
  RATE_LIMIT_SEARCH_BURST: burstVar.default(30),
  /**
   * Sustained conversation creations and member additions per second per user (0.1: six a minute).
   * @default 0.1
   */
  RATE_LIMIT_CONVERSATION_RATE: rateVar.default(0.1),
  /**
   * Conversation creations and member additions at once.
   * @default 10
   */
  RATE_LIMIT_CONVERSATION_BURST: burstVar.default(10),
  /**
   * Sustained password changes, account deletions and account exports per second per user, together
   * (0.0167: one a minute).
   * @default 0.0167
   */
  RATE_LIMIT_ACCOUNT_RATE: rateVar.default(1 / 60),
  /**
   * Password changes, account deletions and exports a user may make at once.
   * @default 5
   */
  RATE_LIMIT_ACCOUNT_BURST: burstVar.default(5),
} as const;

/** The validated settings of {@link rateLimitConfigShape}. */
export type RateLimitConfig = { [K in keyof typeof rateLimitConfigShape]: z.output<(typeof rateLimitConfigShape)[K]> };

/** Every action's bucket. */
export type RateLimits = Readonly<Record<RateAction, BucketLimit>>;

/** The buckets described by a validated configuration. */
export function rateLimitsFromConfig(config: RateLimitConfig & { ATTACHMENT_UPLOADS_PER_MINUTE?: number }): RateLimits {
  const uploads = config.ATTACHMENT_UPLOADS_PER_MINUTE ?? 30;
  const bucket = (ratePerSecond: number, burst: number): BucketLimit => ({ ratePerSecond, burst });
  return {
    message: bucket(config.RATE_LIMIT_MESSAGE_RATE, config.RATE_LIMIT_MESSAGE_BURST),
    typing: bucket(config.RATE_LIMIT_TYPING_RATE, config.RATE_LIMIT_TYPING_BURST),
    call: bucket(config.RATE_LIMIT_CALL_RATE, config.RATE_LIMIT_CALL_BURST),
    sync: bucket(config.RATE_LIMIT_SYNC_RATE, config.RATE_LIMIT_SYNC_BURST),
    presence: bucket(config.RATE_LIMIT_PRESENCE_RATE, config.RATE_LIMIT_PRESENCE_BURST),
    receipt: bucket(config.RATE_LIMIT_RECEIPT_RATE, config.RATE_LIMIT_RECEIPT_BURST),
    login: bucket(config.RATE_LIMIT_LOGIN_RATE, config.RATE_LIMIT_LOGIN_BURST),
    "login-pair": bucket(config.RATE_LIMIT_LOGIN_PAIR_RATE, config.RATE_LIMIT_LOGIN_PAIR_BURST),
    "login-address": bucket(config.RATE_LIMIT_LOGIN_ADDRESS_RATE, config.RATE_LIMIT_LOGIN_ADDRESS_BURST),
    register: bucket(config.RATE_LIMIT_REGISTER_RATE, config.RATE_LIMIT_REGISTER_BURST),
    refresh: bucket(config.RATE_LIMIT_REFRESH_RATE, config.RATE_LIMIT_REFRESH_BURST),
    search: bucket(config.RATE_LIMIT_SEARCH_RATE, config.RATE_LIMIT_SEARCH_BURST),
    conversation: bucket(config.RATE_LIMIT_CONVERSATION_RATE, config.RATE_LIMIT_CONVERSATION_BURST),
    account: bucket(config.RATE_LIMIT_ACCOUNT_RATE, config.RATE_LIMIT_ACCOUNT_BURST),
    upload: bucket(uploads / 60, uploads),
  };
}

/**
 * Refills a bucket by the time elapsed since its last take (Redis `TIME`), then takes `cost` tokens if
 * it holds them. The key expires once the bucket would be full again, since a missing key is a full
 * bucket; a refusal writes nothing.
 *
 * KEYS: the bucket (hash: `tokens`, `ts` in ms). ARGV: tokens per second, burst, cost.
 * Returns `{ 1, 0 }` when taken, `{ 0, retryAfterMs }` when refused.
 */
const takeScript = new Script<[number, number]>(
  "rate-limit-take",
  `
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
if tokens < cost then
  return { 0, math.max(1, math.ceil((cost - tokens) * 1000 / rate)) }
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return { 1, 0 }
`,
);

/** The answer of {@link RateLimiter.take}. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** What a {@link RateLimiter} needs. */
export interface RateLimiterOptions {
  redis: RedisClient;
  keys: RedisKeys;
  limits: RateLimits;
  log: Logger;
  /**
   * When false, {@link RateLimiter.check} allows everything without asking Redis.
   * @default true
   */
  enabled?: boolean;
  /**
   * How long {@link RateLimiter.check} waits for Redis before applying the action's {@link FailMode}.
   * @default 1000
   */
  timeoutMs?: number;
  /** Failure modes, by action. @default {@link RATE_FAIL_MODES} */
  failModes?: Readonly<Record<RateAction, FailMode>>;
}

/** How often, at most, a Redis failure of the limiter is logged. */
const FAILURE_LOG_INTERVAL_MS = 10_000;
/** Local refusal records above which expired ones are swept. */
const DENY_SWEEP_SIZE = 10_000;

/**
 * Cluster-wide token buckets.
 *
 * A refusal is also remembered in this process until its `retryAfterMs` has passed (a duration, measured
 * on the monotonic clock), and further events of that user and action are refused from memory without
 * a Redis round trip: a bucket only regains tokens with time, so the answer could not be different, and
 * a flooding client costs Redis one script call per refusal window instead of one per event.
 */
export class RateLimiter {
  private readonly deniedUntil = new Map<string, number>();
  private lastFailureLog = -Infinity;

  constructor(private readonly options: RateLimiterOptions) {}

  /** Whether limits are enforced. */
  get enabled(): boolean {
    return this.options.enabled ?? true;
  }

  /**
   * Takes `cost` tokens from `subject`'s bucket for `action` (Redis only; no local memory, no timeout).
   * `subject` is a user id, or any string without braces (see {@link loginSubject}).
   * @throws whatever the Redis client throws.
   */
  async take(subject: string, action: RateAction, cost = 1): Promise<RateDecision> {
    const { ratePerSecond, burst } = this.options.limits[action];
    const [allowed, retryAfterMs] = await takeScript.run(
      this.options.redis,
      [this.options.keys.rateLimit(subject, action)],
      [ratePerSecond, burst, cost],
    );
    return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: Number(retryAfterMs) };
  }

  /**
   * Resolves when `subject` may do `action` now (a token was taken).
   * @throws {RateLimitedError} with `retryAfterMs` when the bucket is empty.
   * @throws {UnavailableError} when Redis cannot answer and the action fails closed.
   */
  async check(subject: string, action: RateAction): Promise<void> {
    if (!this.enabled) return;
    const memoKey = `${action}\u0000${subject}`;
    const until = this.deniedUntil.get(memoKey);
    if (until !== undefined) {
      const left = Math.ceil(until - performance.now());
      if (left > 0) throw refusal(action, left);
      this.deniedUntil.delete(memoKey);
    }
    let decision: RateDecision;
    try {
      decision = await this.withTimeout(this.take(subject, action));
    } catch (err) {
      this.logFailure(err, action);
      if ((this.options.failModes ?? RATE_FAIL_MODES)[action] === "open") return;
      throw new UnavailableError("Rate limiter unavailable, retry shortly", { cause: err });
    }
    if (decision.allowed) return;
    this.remember(memoKey, decision.retryAfterMs);
    throw refusal(action, decision.retryAfterMs);
  }

  private remember(memoKey: string, retryAfterMs: number): void {
    const now = performance.now();
    if (this.deniedUntil.size >= DENY_SWEEP_SIZE) {
      for (const [key, until] of this.deniedUntil) if (until <= now) this.deniedUntil.delete(key);
    }
    this.deniedUntil.set(memoKey, now + retryAfterMs);
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rate limiter: no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  private logFailure(err: unknown, action: RateAction): void {
    const now = performance.now();
    if (now - this.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLog = now;
    const mode = (this.options.failModes ?? RATE_FAIL_MODES)[action];
    this.options.log.warn({ err, action, failMode: mode }, "rate limiter cannot reach Redis; failing open or closed by action");
  }
}

function refusal(action: RateAction, retryAfterMs: number): RateLimitedError {
  return new RateLimitedError(`Too many ${action} events, retry in ${retryAfterMs} ms`, retryAfterMs);
}

const digest = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 32);

/**
 * The bucket subject of login attempts for `username`: case-insensitive like usernames, hashed so that
 * an arbitrary string from a request body can never shape a Redis key (or its hash tag).
 */
export function loginSubject(username: string): string {
  return `login-${digest(username.toLowerCase())}`;
}

/** The bucket subject of a client address (IPv4 or IPv6, as Express reports it), hashed like {@link loginSubject}. */
export function addressSubject(address: string): string {
  return `addr-${digest(address)}`;
}

/** The bucket subject of login attempts for `username` from `address`. */
export function loginPairSubject(address: string, username: string): string {
  return `pair-${digest(`${address}\u0000${username.toLowerCase()}`)}`;
}
