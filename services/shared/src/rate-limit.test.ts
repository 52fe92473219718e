/**
 * The token bucket on a real redis-server: burst, refill by Redis time, retryAfterMs, atomicity, and
 * the limiter's local refusal memory and failure modes.
 */
import { Types } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

import { freePort } from "../../../scripts/lib/ports.js";
import { useRedisServer } from "../../../test/helpers/redis.js";
import { uniqueSuffix } from "../../../test/helpers/env.js";
import { RateLimitedError, UnavailableError } from "./errors.js";
import { loadConfig } from "./config.js";
import {
  RateLimiter,
  addressSubject,
  loginPairSubject,
  loginSubject,
  rateLimitConfigShape,
  rateLimitsFromConfig,
  type RateAction,
  type RateLimits,
} from "./rate-limit.js";
import { createRedis, type RedisClient } from "./redis.js";
import { redisKeys } from "./redis-keys.js";

const redisServer = useRedisServer("rate-limit");
const log = pino({ level: "silent" });
const keys = redisKeys(`rl${uniqueSuffix()}`);
let redis: RedisClient;

beforeAll(() => {
  redis = createRedis(redisServer.url, { name: "rate-limit-test", log });
});
afterAll(async () => {
  await redis?.quit();
});

const user = () => new Types.ObjectId().toHexString();

/** Every action with the same bucket, overridden per test. */
function limits(overrides: Partial<RateLimits> = {}): RateLimits {
  const base = { ratePerSecond: 1, burst: 5 };
  return {
    message: base,
    typing: base,
    call: base,
    sync: base,
    presence: base,
    receipt: base,
    login: base,
    "login-pair": base,
    "login-address": base,
    register: base,
    refresh: base,
    search: base,
    conversation: base,
    account: base,
    upload: base,
    ...overrides,
  };
}

function limiter(overrides: Partial<RateLimits> = {}, options: { enabled?: boolean } = {}): RateLimiter {
  return new RateLimiter({ redis, keys, limits: limits(overrides), log, ...options });
}

async function takeN(l: RateLimiter, subject: string, action: RateAction, n: number) {
  const decisions = [];
  for (let i = 0; i < n; i++) decisions.push(await l.take(subject, action));
  return decisions;
}

describe("RateLimiter.take", () => {
  it("allows a full burst from a fresh bucket, then refuses with the time until the next token", async () => {
    const l = limiter({ message: { ratePerSecond: 2, burst: 5 } });
    const u = user();
    const decisions = await takeN(l, u, "message", 6);
    expect(decisions.slice(0, 5)).toEqual(Array(5).fill({ allowed: true }));
    const refused = decisions[5]!;
    if (refused.allowed) throw new Error("expected a refusal");
    // 2 tokens per second: the next one is at most 500 ms away (less, as time passed since the first take).
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500);
  });

  it("refills by the time elapsed on Redis's clock, never above the burst", async () => {
    const l = limiter({ message: { ratePerSecond: 1, burst: 5 } });
    const u = user();
    await takeN(l, u, "message", 5);
    expect((await l.take(u, "message")).allowed).toBe(false);

    // Move the last take 3 s into the past, as if 3 s had passed: exactly 3 more tokens (plus the
    // fraction accrued since the takes above, less than one).
    const key = keys.rateLimit(u, "message");
    const ts = Number(await redis.hget(key, "ts"));
    await redis.hset(key, "ts", ts - 3000);
    const after = await takeN(l, u, "message", 4);
    expect(after.map((d) => d.allowed)).toEqual([true, true, true, false]);

    // A whole hour later the bucket holds the burst, not 3600 tokens.
    await redis.hset(key, "ts", Number(await redis.hget(key, "ts")) - 3_600_000);
    const muchLater = await takeN(l, u, "message", 6);
    expect(muchLater.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
  });

  it("gives retryAfterMs from the rate, fractional rates included", async () => {
    const slow = limiter({ login: { ratePerSecond: 0.1, burst: 1 } });
    const u = loginSubject(`someone_${uniqueSuffix()}`);
    expect(await slow.take(u, "login")).toEqual({ allowed: true });
    const refused = await slow.take(u, "login");
    if (refused.allowed) throw new Error("expected a refusal");
    expect(refused.retryAfterMs).toBeGreaterThan(9_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it("lets a token come back after retryAfterMs", async () => {
    const l = limiter({ typing: { ratePerSecond: 20, burst: 2 } });
    const u = user();
    await takeN(l, u, "typing", 2);
    const refused = await l.take(u, "typing");
    if (refused.allowed) throw new Error("expected a refusal");
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    // Waiting is the behaviour under test here, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 5));
    expect(await l.take(u, "typing")).toEqual({ allowed: true });
    expect((await l.take(u, "typing")).allowed).toBe(false);
  });

  it("keeps users and actions apart", async () => {
    const l = limiter({ message: { ratePerSecond: 1, burst: 1 }, typing: { ratePerSecond: 1, burst: 1 } });
    const [a, b] = [user(), user()];
    expect(await l.take(a, "message")).toEqual({ allowed: true });
    expect((await l.take(a, "message")).allowed).toBe(false);
    expect(await l.take(a, "typing")).toEqual({ allowed: true });
    expect(await l.take(b, "message")).toEqual({ allowed: true });
  });

  it("is atomic under concurrency: exactly the burst passes", async () => {
    const l = limiter({ call: { ratePerSecond: 0.001, burst: 20 } });
    const u = user();
    const decisions = await Promise.all(Array.from({ length: 60 }, () => l.take(u, "call")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
  });

  it("stores the bucket on the user's {rl:<user>} key, expiring once it would be full again", async () => {
    const l = limiter({ receipt: { ratePerSecond: 10, burst: 30 } });
    const u = user();
    await takeN(l, u, "receipt", 10);
    const key = keys.rateLimit(u, "receipt");
    expect(key).toContain(`{rl:${u}}`);
    const ttl = await redis.pttl(key);
    // 10 tokens missing at 10 per second: full in 1 s, plus a second of slack.
    expect(ttl).toBeGreaterThan(1000);
    expect(ttl).toBeLessThanOrEqual(2000);
  });
});

describe("RateLimiter.check", () => {
  it("throws RATE_LIMITED with retryAfterMs, and remembers the refusal without asking Redis again", async () => {
    const l = limiter({ message: { ratePerSecond: 1, burst: 2 } });
    const u = user();
    await l.check(u, "message");
    await l.check(u, "message");
    const err = await l.check(u, "message").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).toWire()).toMatchObject({ code: "RATE_LIMITED", retryAfterMs: expect.any(Number) });
    expect((err as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(1000);

    // Even with a full bucket in Redis, this process refuses from memory until retryAfterMs has passed.
    await redis.del(keys.rateLimit(u, "message"));
    await expect(l.check(u, "message")).rejects.toBeInstanceOf(RateLimitedError);
    // Another process (another limiter) asks Redis, and gets the fresh bucket.
    await expect(limiter({ message: { ratePerSecond: 1, burst: 2 } }).check(u, "message")).resolves.toBeUndefined();
  });

  it("allows everything when disabled", async () => {
    const l = limiter({ message: { ratePerSecond: 1, burst: 1 } }, { enabled: false });
    const u = user();
    for (let i = 0; i < 10; i++) await l.check(u, "message");
    expect(await redis.exists(keys.rateLimit(u, "message"))).toBe(0);
  });

  it("fails open or closed by action when Redis is unreachable, within its timeout", async () => {
    const dead = createRedis(`redis://127.0.0.1:${await freePort()}`, { name: "dead", log });
    try {
      const l = new RateLimiter({ redis: dead, keys, limits: limits(), log, timeoutMs: 300 });
      const u = user();
      const started = performance.now();
      await expect(l.check(u, "typing")).resolves.toBeUndefined();
      await expect(l.check(u, "call")).resolves.toBeUndefined();
      await expect(l.check(u, "message")).rejects.toBeInstanceOf(UnavailableError);
      await expect(l.check(loginSubject("x"), "login")).rejects.toBeInstanceOf(UnavailableError);
      expect(performance.now() - started).toBeLessThan(4 * 300 + 500);
      // Every login and registration bucket is a security control: closed. Searches and conversation
      // creations degrade by themselves: open.
      await expect(l.check(loginPairSubject("192.0.2.1", "x"), "login-pair")).rejects.toBeInstanceOf(UnavailableError);
      await expect(l.check(addressSubject("192.0.2.1"), "login-address")).rejects.toBeInstanceOf(UnavailableError);
      await expect(l.check(addressSubject("192.0.2.1"), "register")).rejects.toBeInstanceOf(UnavailableError);
      await expect(l.check(u, "search")).resolves.toBeUndefined();
      await expect(l.check(u, "conversation")).resolves.toBeUndefined();
      // Password checks, deletions and exports are rare and costly: closed.
      await expect(l.check(u, "account")).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      dead.disconnect();
    }
  });
});

describe("configuration", () => {
  const schema = z.object(rateLimitConfigShape);

  it("has a bucket per action with sensible defaults", () => {
    const l = rateLimitsFromConfig(loadConfig(schema, {}));
    expect(l.message).toEqual({ ratePerSecond: 10, burst: 50 });
    expect(l.call.burst).toBeGreaterThanOrEqual(100);
    expect(l.login.ratePerSecond).toBeLessThan(1);
  });

  it("bounds logins per username, per address and username, and per address, and registrations per address", () => {
    const l = rateLimitsFromConfig(loadConfig(schema, {}));
    // Guessing one password from one address: 5, then one a minute.
    expect(l["login-pair"]).toEqual({ ratePerSecond: 1 / 60, burst: 5 });
    // Spraying usernames from one address: 10, then 12 a minute.
    expect(l["login-address"]).toEqual({ ratePerSecond: 0.2, burst: 10 });
    // One username from every address together: 20, then one every 20 s (4,320 a day).
    expect(l.login).toEqual({ ratePerSecond: 0.05, burst: 20 });
    // The owner's own attempts fit in the per-username burst after a stranger used a pair burst on it.
    expect(l.login.burst).toBeGreaterThan(l["login-pair"].burst);
    expect(l.register).toEqual({ ratePerSecond: 1 / 300, burst: 5 });
    expect(l.search).toEqual({ ratePerSecond: 2, burst: 30 });
    expect(l.conversation).toEqual({ ratePerSecond: 0.1, burst: 10 });
  });

  it("allows a few password changes, deletions and exports per user, then one a minute", () => {
    const l = rateLimitsFromConfig(loadConfig(schema, {}));
    expect(l.account).toEqual({ ratePerSecond: 1 / 60, burst: 5 });
    const set = rateLimitsFromConfig(loadConfig(schema, { RATE_LIMIT_ACCOUNT_RATE: "0.5", RATE_LIMIT_ACCOUNT_BURST: "2" }));
    expect(set.account).toEqual({ ratePerSecond: 0.5, burst: 2 });
  });

  it("reads every action's rate and burst, and names a bad variable", () => {
    const config = loadConfig(schema, { RATE_LIMIT_TYPING_RATE: "0.5", RATE_LIMIT_TYPING_BURST: "3", RATE_LIMITS_ENABLED: "false" });
    expect(rateLimitsFromConfig(config).typing).toEqual({ ratePerSecond: 0.5, burst: 3 });
    expect(config.RATE_LIMITS_ENABLED).toBe(false);
    expect(() => loadConfig(schema, { RATE_LIMIT_CALL_RATE: "0", RATE_LIMIT_CALL_BURST: "many" })).toThrow(
      /RATE_LIMIT_CALL_RATE[\s\S]*RATE_LIMIT_CALL_BURST/,
    );
  });

  it("turns a username into a case-insensitive subject that cannot shape a key", () => {
    expect(loginSubject("Ada")).toBe(loginSubject("ada"));
    expect(loginSubject("}{evil")).toMatch(/^login-[0-9a-f]{32}$/);
  });

  it("turns an address, and an address with a username, into subjects of their own that cannot shape a key", () => {
    expect(addressSubject("192.0.2.1")).toMatch(/^addr-[0-9a-f]{32}$/);
    expect(addressSubject("192.0.2.1")).not.toBe(addressSubject("192.0.2.2"));
    expect(loginPairSubject("192.0.2.1", "Ada")).toBe(loginPairSubject("192.0.2.1", "ada"));
    expect(loginPairSubject("192.0.2.1", "ada")).not.toBe(loginPairSubject("192.0.2.2", "ada"));
    expect(loginPairSubject("192.0.2.1", "}{evil")).toMatch(/^pair-[0-9a-f]{32}$/);
    expect(new Set([loginSubject("ada"), addressSubject("ada"), loginPairSubject("", "ada")]).size).toBe(3);
  });
});
