/**
 * An in-process API for one test file: its own redis-server, its own FerretDB database, `createApi` on a
 * free port, real HTTP through fetch, and a socket probe on the same Redis to observe the emitter.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";

import type { Express } from "express";
import type { Connection } from "mongoose";
import { afterAll, beforeAll } from "vitest";

import { createObjectStorage } from "@parley/shared/attachments/storage";
import { loadConfig } from "@parley/shared/config";
import { createEmitter } from "@parley/shared/emitter";
import { connectMongo, Health, mongoReady, redisReady } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createModels, type Models } from "@parley/shared/models";
import { createAccountQueue, createAttachmentQueue, createPersistQueue, type AccountQueue, type PersistQueue } from "@parley/shared/queues";
import { createRedis } from "@parley/shared/redis";
import { redisKeys, type RedisKeys } from "@parley/shared/redis-keys";
import type { AuthSession, Conversation, Message, MessagePersisted, PublicUser } from "@parley/protocol";
import { conversationRoom } from "@parley/shared/events";
import type { Redis } from "ioredis";

import { objectStoreEnv } from "../../../../scripts/lib/cluster.js";
import { startObjectStore, type ObjectStore } from "../../../../scripts/lib/object-store.js";
import { ONE_ADDRESS_LIMITS } from "../../../../scripts/lib/one-address-limits.js";
import { TEST_JWT_SECRET, testDir, testMongoUrl, uniqueSuffix } from "../../../../test/helpers/env.js";
import { collect, eventually } from "../../../../test/helpers/events.js";
import { useRedisServer } from "../../../../test/helpers/redis.js";
import { startSocketProbe, type SocketProbe } from "../../../../test/helpers/socket-probe.js";
import { createWorker, type ParleyWorker } from "../../../worker/src/app.js";
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
  /** The Express app behind {@link baseUrl}. */
  readonly app: Express;
  readonly config: ApiConfig;
  readonly redis: Redis;
  readonly models: Models;
  readonly mongo: Connection;
  readonly queue: PersistQueue;
  /** The accounts queue the API adds erasures to. */
  readonly accounts: AccountQueue;
  readonly keys: RedisKeys;
  readonly probe: SocketProbe;
  /** Builds another app on the same connections with some dependencies replaced, on a new port. */
  startVariant(overrides: Partial<ApiDeps>): Promise<{ baseUrl: string }>;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Registers a user with a unique username starting with `prefix`. */
  registerUser(prefix?: string): Promise<TestUser>;
  /** Opens another session of `user` (its password is the one {@link registerUser} gives). */
  login(user: TestUser, device?: string): Promise<AuthSession>;
  /**
   * Posts `content` as `as` in `conversationId` and resolves with the message once the worker stored
   * it (`message:persisted`); only with `worker: true`.
   */
  postStored(as: TestUser, conversationId: string, content: string): Promise<Message>;
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
  /**
   * Also run the worker (persistence, erasures) in this process, on the same Redis and database, as a
   * cluster does.
   * @default false
   */
  worker?: boolean;
  /**
   * Also start a local object store (versitygw) and turn attachments on, as a cluster does.
   * @default false
   */
  objectStore?: boolean;
}

/** Starts everything before the file's tests and stops it after them. Use the harness inside tests only. */
export function useApi(label: string, options: UseApiOptions = {}): ApiHarness {
  const redisServer = useRedisServer(`api-${label}`);
  let state:
    | {
        baseUrl: string;
        app: Express;
        deps: ApiDeps;
        redis: Redis;
        mongo: Connection;
        probe: SocketProbe;
        servers: Server[];
        worker?: { worker: ParleyWorker; queueRedis: Redis };
        objectStore?: ObjectStore;
      }
    | undefined;
  let counter = 0;
  const PASSWORD = "correct horse battery";

  const current = () => {
    if (!state) throw new Error("the API harness is not started yet");
    return state;
  };

  async function serve(deps: ApiDeps): Promise<{ server: Server; baseUrl: string; app: Express }> {
    const app = createApi(deps);
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { server, baseUrl: `http://127.0.0.1:${port}`, app };
  }

  beforeAll(async () => {
    const objectStore = options.objectStore
      ? await startObjectStore({ dir: testDir(`s3-${label}`), bucket: "attachments", accessKey: "parleytest", secretKey: `secret-${uniqueSuffix()}` })
      : undefined;
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
      ...(objectStore ? objectStoreEnv(objectStore) : {}),
      ...options.env,
    });
    const log = createLogger({ service: "api", node: config.NODE_ID, level: config.LOG_LEVEL });
    const redis = createRedis(config.REDIS_URL, { name: "api-test", log });
    const mongo = await connectMongo(config.MONGO_URL, log);
    const models = createModels(mongo);
    await Promise.all(Object.values(models).map((model) => model.init()));
    const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
    const accounts = createAccountQueue(redis, config.QUEUE_PREFIX);
    const emitter = createEmitter(redis, log);
    const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });
    const attachmentQueue = createAttachmentQueue(redis, config.QUEUE_PREFIX);
    const storage = createObjectStorage(config, log);
    const deps: ApiDeps = { config, log, redis, models, queue, accounts, attachmentQueue, storage, emitter, health };
    const { server, baseUrl, app } = await serve(deps);
    const probe = await startSocketProbe(redisServer.url);
    state = { baseUrl, app, deps, redis, mongo, probe, servers: [server], ...(objectStore ? { objectStore } : {}) };
    if (options.worker) {
      const workerLog = createLogger({ service: "worker", node: `worker-test-${label}`, level: config.LOG_LEVEL });
      const queueRedis = createRedis(config.REDIS_URL, { name: "worker-test-queue", log: workerLog, blocking: true });
      const worker = createWorker({
        queueRedis,
        redis,
        models,
        // The API's settings hold the queue prefix, the Redis prefix, the stream TTL and the attachments'.
        config: { ...config, PERSIST_BATCH_SIZE: 50, PERSIST_BATCH_WAIT_MS: 5, PERSIST_MAX_CONCURRENT_WRITES: 2 },
        log: workerLog,
        storage,
      });
      state.worker = { worker, queueRedis };
    }
  });

  afterAll(async () => {
    if (!state) return;
    const { servers, probe, deps, redis, mongo, worker, objectStore } = state;
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (worker) {
      await worker.worker.close();
      await worker.queueRedis.quit();
    }
    await probe.close();
    await Promise.all([deps.queue.close(), deps.accounts.close(), deps.attachmentQueue.close()]);
    await redis.quit();
    await mongo.dropDatabase().catch(() => {});
    await mongo.close();
    deps.storage?.close();
    await objectStore?.stop();
  });

  const harness: ApiHarness = {
    get baseUrl() {
      return current().baseUrl;
    },
    get app() {
      return current().app;
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
    get accounts() {
      return current().deps.accounts;
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
      const res = await harness.request("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
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

    async login(user, device) {
      const res = await harness.request("POST", "/api/auth/login", { body: { username: user.username, password: PASSWORD, ...(device ? { device } : {}) } });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as AuthSession;
    },

    async postStored(as, conversationId, content) {
      if (!current().worker) throw new Error("postStored() needs useApi(…, { worker: true })");
      const persisted = collect<MessagePersisted>(await harness.probe.join([conversationRoom(conversationId)]), "message:persisted");
      const res = await harness.request("POST", `/api/conversations/${conversationId}/messages`, {
        token: as.token,
        body: { clientMsgId: `c-${counter++}-${uniqueSuffix()}`, content },
      });
      if (res.status !== 201) throw new Error(`post failed: ${res.status} ${JSON.stringify(res.body)}`);
      const message = res.body.message as Message;
      await eventually(() => persisted.some((p) => p.id === message.id), 10_000, "message stored");
      return message;
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
