/**
 * Redis clients and Lua scripts. A {@link RedisClient} is a single Redis or a Redis Cluster; every
 * script touches keys of one hash slot only, so both work.
 */
import { createHash } from "node:crypto";

import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { Counter } from "prom-client";

import type { BaseConfig, RedisNodeAddress } from "./config.js";

export type RedisClient = Redis | Cluster;

/** Options for {@link createRedis}. */
export interface CreateRedisOptions {
  /** Shown in logs, to tell a service's several connections apart. */
  name: string;
  log: Logger;
  /**
   * For connections that block (BullMQ workers) or subscribe: retry commands forever instead of
   * failing them, as BullMQ requires.
   * @default false
   */
  blocking?: boolean;
  /** Counts the client's errors (`parley_redis_errors_total`), labelled with `name`. */
  errors?: Counter<"client">;
}

/** Credentials and transport shared by every node, in both modes of {@link RedisTarget}. */
export interface RedisAuth {
  /** ACL user. A username in the URL of a single Redis takes precedence. */
  username?: string | undefined;
  /** A password in the URL of a single Redis takes precedence. Never logged. */
  password?: string | undefined;
  /** Connect with TLS (a `rediss://` URL does too). @default false */
  tls?: boolean | undefined;
}

/** Where Redis is: one server by URL, or a Redis Cluster by some of its nodes (the rest are discovered). */
export type RedisTarget = ({ url: string } | { clusterNodes: readonly RedisNodeAddress[] }) & RedisAuth;

/** The Redis settings of `baseConfigShape` (config.ts). */
export type RedisConfig = Pick<BaseConfig, "REDIS_URL" | "REDIS_CLUSTER_NODES" | "REDIS_USERNAME" | "REDIS_PASSWORD" | "REDIS_TLS">;

/** The target a validated configuration names: the cluster when `REDIS_CLUSTER_NODES` is set, else `REDIS_URL`. */
export function redisTarget(config: RedisConfig): RedisTarget {
  const auth: RedisAuth = { username: config.REDIS_USERNAME, password: config.REDIS_PASSWORD, tls: config.REDIS_TLS };
  return config.REDIS_CLUSTER_NODES?.length ? { clusterNodes: config.REDIS_CLUSTER_NODES, ...auth } : { url: config.REDIS_URL, ...auth };
}

/**
 * Opens a Redis connection (a `redis://` URL or a {@link RedisTarget}), with an `error` listener (an
 * unhandled one would crash the process) and bounded per-command retries, so a Redis outage turns into
 * errors the caller can answer instead of requests that hang. A Cluster gets the same options on every
 * node connection; `blocking` sets `maxRetriesPerRequest: null` there, where BullMQ looks for it.
 */
export function createRedis(url: string, options: CreateRedisOptions): Redis;
export function createRedis(target: RedisTarget, options: CreateRedisOptions): RedisClient;
export function createRedis(target: string | RedisTarget, { name, log, blocking = false, errors }: CreateRedisOptions): RedisClient {
  const { username, password, tls } = typeof target === "string" ? {} : target;
  const nodeOptions = {
    connectionName: name,
    maxRetriesPerRequest: blocking ? null : 3,
    enableReadyCheck: true,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: {} } : {}),
  } satisfies RedisOptions;
  const retryStrategy = (attempt: number) => Math.min(50 * 2 ** attempt, 2000);
  const client: RedisClient =
    typeof target === "string" || "url" in target
      ? new Redis(typeof target === "string" ? target : target.url, { ...nodeOptions, retryStrategy })
      : new Cluster(
          target.clusterNodes.map(({ host, port }) => ({ host, port })),
          { redisOptions: nodeOptions, clusterRetryStrategy: retryStrategy, enableReadyCheck: true },
        );
  watchRedis(client, name, log, errors);
  return client;
}

/**
 * Logs a client's errors and reconnections (once per outage, not once per retry), and counts every
 * error in `errors` with `client: name`.
 */
export function watchRedis(client: RedisClient, name: string, log: Logger, errors?: Counter<"client">): void {
  let down = false;
  // Zero from the start, so that the first error is an increase that rate() and alerts can see.
  errors?.inc({ client: name }, 0);
  client.on("error", (err: Error) => {
    errors?.inc({ client: name });
    if (!down) log.error({ err, redis: name }, "redis connection error");
    down = true;
  });
  client.on("ready", () => {
    if (down) log.info({ redis: name }, "redis connection restored");
    down = false;
  });
  if (client instanceof Cluster) {
    // A Cluster emits "error" only when it gives up as a whole; each node's connection errors come as
    // "node error" (logged once per node until the cluster is ready again).
    const failing = new Set<string>();
    client.on("node error", (err: Error, address: string) => {
      errors?.inc({ client: name });
      if (!failing.has(address)) log.warn({ err, redis: name, node: address }, "redis cluster node error");
      failing.add(address);
    });
    client.on("ready", () => failing.clear());
  }
}

/** A Lua script run with EVALSHA, loaded on first use or after a SCRIPT FLUSH / failover. */
export class Script<Reply = unknown> {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as Reply;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return (await redis.eval(this.lua, keys.length, ...keys, ...args)) as Reply;
    }
  }
}
