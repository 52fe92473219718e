/**
 * An in-process API for one test file: its own redis-server, its own FerretDB database, `createApi` on a
 * free port, real HTTP through fetch, and a socket probe on the same Redis to observe the emitter.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";

import type { Connection } from "mongoose";
import { afterAll, beforeAll } from "vitest";

import { loadConfig } from "@parley/shared/config";
import { createEmitter } from "@parley/shared/emitter";
import { connectMongo, Health, mongoReady, redisReady } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createModels, type Models } from "@parley/shared/models";
import { createPersistQueue, type PersistQueue } from "@parley/shared/queues";
import { createRedis } from "@parley/shared/redis";
import { redisKeys, type RedisKeys } from "@parley/shared/redis-keys";
import type { Conversation, PublicUser } from "@parley/shared/schemas";
import type { Redis } from "ioredis";

import { ONE_ADDRESS_LIMITS } from "../../../../scripts/lib/one-address-limits.js";
import { TEST_JWT_SECRET, testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { startSocketProbe, type SocketProbe } from "../../../../test/helpers/socket-probe.js";
import { createApi, type ApiDeps } from "../app.js";
import { apiConfigSchema, type ApiConfig } from "../config.js";

/** An HTTP answer, with its JSON body parsed (null when there is none or it is not JSON). */
export interface TestResponse {
  status: number;
  headers: Headers;
  // Tests read arbitrary fields of the answers they check.
  body: any;
}

/** How {@link ApiHarness.request} sends a request. */
export interface RequestOptions {
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with `content-type: application/json` unless `headers` says otherwise. */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** A registered user and their session's tokens. */
export interface TestUser {
  id: string;
  username: string;
  /** The access token. */
  token: string;
  refreshToken: string;
  sessionId: string;
  user: PublicUser;
}

/** One test file's running API and its connections; read it inside tests and hooks only. */
export interface ApiHarness {
  readonly baseUrl: string;
  readonly config: ApiConfig;
  readonly redis: Redis;
  readonly models: Models;
  readonly mongo: Connection;
  readonly queue: PersistQueue;
  readonly keys: RedisKeys;
  readonly probe: SocketProbe;
  /** Builds another app on the same connections with some dependencies replaced, on a new port. */
  startVariant(overrides: Partial<ApiDeps>): Promise<{ baseUrl: string }>;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Registers a user with a unique username starting with `prefix`. */
  registerUser(prefix?: string): Promise<TestUser>;
  /** Creates a group owned by `owner` with `members`, and returns it. */
  createGroup(owner: TestUser, members: TestUser[], name?: string): Promise<Conversation>;
  /** A unique username starting with `prefix`. */
  username(prefix?: string): string;
}

/** Options of {@link useApi}. */
export interface UseApiOptions {
  /**
   * Environment of the API's configuration, over the harness's own. Every request of the harness comes
   * from 127.0.0.1, so the per-address limits and those that setting up users hits are raised by
   * default (`ONE_ADDRESS_LIMITS`); a test of those limits sets them here, or sends another address
   * in `X-Forwarded-For` (the harness's loopback client is a trusted proxy).
   */
  env?: Record<string, string>;
}

/** Starts everything before the file's tests and stops it after them. Use the harness inside tests only. */
export function useApi(label: string, options: UseApiOptions = {}): ApiHarness {
  const redisServer = useRedisServer(`api-${label}`);
  let state:
    | {
        baseUrl: string;
        deps: ApiDeps;
        redis: Redis;
        mongo: Connection;
        probe: SocketProbe;
        servers: Server[];
      }
    | undefined;
  let counter = 0;

  const current = () => {
    if (!state) throw new Error("the API harness is not started yet");
    return state;
  };

  async function serve(deps: ApiDeps): Promise<{ server: Server; baseUrl: string }> {
    const server = createServer(createApi(deps));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { server, baseUrl: `http://127.0.0.1:${port}` };
  }

  beforeAll(async () => {
    const config = loadConfig(apiConfigSchema, {
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: redisServer.url,
      MONGO_URL: testMongoUrl(`api_${label}`),
      REDIS_PREFIX: `t${uniqueSuffix()}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      NODE_ID: `api-test-${label}`,
      // Test files run side by side on a small machine, where a hash can take half a second: a slow
      // hash must wait, not be refused (the hasher's own tests set their bounds).
      PASSWORD_HASH_MAX_WAIT_MS: "60000",
      ...ONE_ADDRESS_LIMITS,
      ...options.env,
    });
    const log = createLogger({ service: "api", node: config.NODE_ID, level: config.LOG_LEVEL });
    const redis = createRedis(config.REDIS_URL, { name: "api-test", log });
    const mongo = await connectMongo(config.MONGO_URL, log);
    const models = createModels(mongo);
    await Promise.all(Object.values(models).map((model) => model.init()));
    const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
    const emitter = createEmitter(redis, log);
    const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });
    const deps: ApiDeps = { config, log, redis, models, queue, emitter, health };
    const { server, baseUrl } = await serve(deps);
    const probe = await startSocketProbe(redisServer.url);
    state = { baseUrl, deps, redis, mongo, probe, servers: [server] };
  });

  afterAll(async () => {
    if (!state) return;
    const { servers, probe, deps, redis, mongo } = state;
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await probe.close();
    await deps.queue.close();
    await redis.quit();
    await mongo.dropDatabase().catch(() => {});
    await mongo.close();
  });

  const harness: ApiHarness = {
    get baseUrl() {
      return current().baseUrl;
    },
    get config() {
      return current().deps.config;
    },
    get redis() {
      return current().redis;
    },
    get models() {
      return current().deps.models;
    },
    get mongo() {
      return current().mongo;
    },
    get queue() {
      return current().deps.queue;
    },
    get keys() {
      return redisKeys(current().deps.config.REDIS_PREFIX);
    },
    get probe() {
      return current().probe;
    },

    async startVariant(overrides) {
      const { server, baseUrl } = await serve({ ...current().deps, ...overrides });
      current().servers.push(server);
      return { baseUrl };
    },

    async request(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.rawBody !== undefined || options.body !== undefined) {
        headers["content-type"] = "application/json";
        body = options.rawBody ?? JSON.stringify(options.body);
      }
      Object.assign(headers, options.headers);
      const url = path.startsWith("http") ? path : `${current().baseUrl}${path}`;
      const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = text;
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },

    username(prefix = "u") {
      counter += 1;
      return `${prefix}${counter}_${uniqueSuffix()}`;
    },

    async registerUser(prefix = "u") {
      const username = harness.username(prefix);
      const res = await harness.request("POST", "/api/auth/register", { body: { username, password: "correct horse battery" } });
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
      return {
        id: res.body.user.id,
        username,
        token: res.body.accessToken,
        refreshToken: res.body.refreshToken,
        sessionId: res.body.sessionId,
        user: res.body.user,
      };
    },

    async createGroup(owner, members, name = "group") {
      const res = await harness.request("POST", "/api/conversations", {
        token: owner.token,
        body: { type: "group", name, memberIds: members.map((m) => m.id) },
      });
      if (res.status !== 201) throw new Error(`group creation failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.conversation as Conversation;
    },
  };
  return harness;
}
