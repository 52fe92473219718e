import { Cluster, Redis } from "ioredis";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { baseConfigShape, checkRedisConfig, ConfigError, loadConfig } from "./config.js";
import { createRedis, redisTarget } from "./redis.js";

const schema = z.object(baseConfigShape).superRefine(checkRedisConfig, { when: () => true });
const SECRET = "a-jwt-secret-that-is-at-least-32-characters";
const load = (env: Record<string, string>) => loadConfig(schema, { JWT_SECRET: SECRET, ...env });
const log = pino({ level: "silent" });

describe("Redis configuration", () => {
  it("is a single Redis at REDIS_URL by default", () => {
    const config = load({});
    expect(config.REDIS_CLUSTER_NODES).toBeUndefined();
    expect(redisTarget(config)).toEqual({ url: "redis://127.0.0.1:6379", tls: false });
  });

  it("is a Redis Cluster when REDIS_CLUSTER_NODES is set, REDIS_URL ignored, credentials for every node", () => {
    const config = load({
      REDIS_URL: "redis://ignored:6379",
      REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-1.parley.svc:7001,[::1]:7002",
      REDIS_USERNAME: "parley",
      REDIS_PASSWORD: "s3cret",
      REDIS_TLS: "true",
    });
    expect(redisTarget(config)).toEqual({
      clusterNodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "redis-1.parley.svc", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      username: "parley",
      password: "s3cret",
      tls: true,
    });
  });

  it("names every malformed seed node, and a queue prefix without a hash tag on a cluster", () => {
    expect.assertions(3);
    try {
      load({ REDIS_CLUSTER_NODES: "10.0.0.1:7000,nohost,10.0.0.2:99999", QUEUE_PREFIX: "bull" });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems.filter((p) => p.startsWith("REDIS_CLUSTER_NODES:"))).toEqual([
        'REDIS_CLUSTER_NODES: "nohost" is not host:port',
        'REDIS_CLUSTER_NODES: "10.0.0.2:99999" is not host:port',
      ]);
      expect(problems.filter((p) => p.startsWith("QUEUE_PREFIX:"))).toHaveLength(1);
    }
  });

  it("accepts a queue prefix without a hash tag on a single Redis", () => {
    expect(load({ QUEUE_PREFIX: "bull" }).QUEUE_PREFIX).toBe("bull");
  });
});

describe("createRedis", () => {
  it("opens a Cluster with the same node options, and maxRetriesPerRequest: null where BullMQ looks for blocking ones", () => {
    const target = { clusterNodes: [{ host: "127.0.0.1", port: 1 }], password: "pw" };
    const blocking = createRedis(target, { name: "queue", log, blocking: true });
    const commands = createRedis(target, { name: "commands", log });
    try {
      expect(blocking).toBeInstanceOf(Cluster);
      const { redisOptions } = (blocking as Cluster).options;
      expect(redisOptions).toMatchObject({ connectionName: "queue", maxRetriesPerRequest: null, password: "pw" });
      expect((commands as Cluster).options.redisOptions).toMatchObject({ maxRetriesPerRequest: 3 });
    } finally {
      blocking.disconnect();
      commands.disconnect();
    }
  });

  it("opens a single Redis from a URL or a target", () => {
    const fromUrl = createRedis("redis://127.0.0.1:1", { name: "plain", log });
    const fromTarget = createRedis({ url: "redis://127.0.0.1:1", tls: false }, { name: "target", log, blocking: true });
    try {
      expect(fromUrl).toBeInstanceOf(Redis);
      expect(fromTarget).toBeInstanceOf(Redis);
      expect((fromTarget as Redis).options.maxRetriesPerRequest).toBeNull();
    } finally {
      fromUrl.disconnect();
      fromTarget.disconnect();
    }
  });
});
