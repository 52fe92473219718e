/** The known-address sets on a real redis-server: digests only, the 20 most recent, none older than 90 days. */
import { Types } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";

import { uniqueSuffix } from "../../../../test/helpers/env.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { KnownAddresses } from "./known-addresses.js";

const redisServer = useRedisServer("known-addresses");
const keys = redisKeys(`ka${uniqueSuffix()}`);
const DAY_MS = 24 * 3600 * 1000;
let redis: RedisClient;

beforeAll(() => {
  redis = createRedis(redisServer.url, { name: "known-addresses-test", log: pino({ level: "silent" }) });
});
afterAll(async () => {
  await redis?.quit();
});

const user = () => new Types.ObjectId().toHexString();
const known = (secret = "a-secret-of-the-test-that-is-long-enough") => new KnownAddresses({ redis, keys, secret });

describe("KnownAddresses", () => {
  it("knows an address once remembered, for that user only, and stores a keyed digest of it", async () => {
    const store = known();
    const [alice, bob] = [user(), user()];
    expect(await store.has(alice, "192.0.2.1")).toBe(false);
    await store.remember(alice, "192.0.2.1");
    expect(await store.has(alice, "192.0.2.1")).toBe(true);
    expect(await store.has(alice, "192.0.2.2")).toBe(false);
    expect(await store.has(bob, "192.0.2.1")).toBe(false);

    const members = await redis.zrange(keys.userLoginAddresses(alice), "0", "-1");
    expect(members).toEqual([store.digest(alice, "192.0.2.1")]);
    expect(members[0]).not.toContain("192.0.2.1");
    // Another user, or another server secret, gives another digest: nothing to correlate or look up.
    expect(store.digest(bob, "192.0.2.1")).not.toBe(members[0]);
    expect(known("another-secret-that-is-also-long-enough").digest(alice, "192.0.2.1")).not.toBe(members[0]);
    // The set expires with its newest entry.
    const ttl = await redis.pttl(keys.userLoginAddresses(alice));
    expect(ttl).toBeGreaterThan(89 * DAY_MS);
    expect(ttl).toBeLessThanOrEqual(90 * DAY_MS);
  });

  it("keeps the 20 most recent addresses", async () => {
    const store = known();
    const u = user();
    const key = keys.userLoginAddresses(u);
    // 25 earlier logins, a minute apart, the last one a minute ago.
    const now = Date.now();
    for (let i = 0; i < 25; i++) await redis.zadd(key, now - (25 - i) * 60_000, store.digest(u, `192.0.2.${i}`));
    await store.remember(u, "198.51.100.1");
    expect(await redis.zcard(key)).toBe(20);
    expect(await store.has(u, "198.51.100.1")).toBe(true);
    expect(await store.has(u, "192.0.2.24")).toBe(true);
    expect(await store.has(u, "192.0.2.6")).toBe(true);
    expect(await store.has(u, "192.0.2.5")).toBe(false);
    expect(await store.has(u, "192.0.2.0")).toBe(false);
  });

  it("forgets addresses older than 90 days, on lookup and on the next record", async () => {
    const store = known();
    const u = user();
    const key = keys.userLoginAddresses(u);
    await store.remember(u, "192.0.2.1");
    await store.remember(u, "192.0.2.2");
    await redis.zincrby(key, -91 * DAY_MS, store.digest(u, "192.0.2.1"));
    await redis.zincrby(key, -89 * DAY_MS, store.digest(u, "192.0.2.2"));
    expect(await store.has(u, "192.0.2.1")).toBe(false);
    expect(await store.has(u, "192.0.2.2")).toBe(true);

    await store.remember(u, "192.0.2.3");
    expect((await redis.zrange(key, "0", "-1")).sort()).toEqual([store.digest(u, "192.0.2.2"), store.digest(u, "192.0.2.3")].sort());
  });
});
