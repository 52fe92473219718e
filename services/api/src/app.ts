/**
 * The API as an Express application, built from the dependencies it is given: `index.ts` passes the real
 * connections, tests pass their own Redis and database.
 */
import express, { Router, type Express } from "express";
import { pinoHttp } from "pino-http";

import { Attachments } from "@parley/shared/attachments/attachments";
import type { ObjectStorage } from "@parley/shared/attachments/storage";
import { BlockCache } from "@parley/shared/blocks/block-cache";
import type { ParleyEmitter } from "@parley/shared/emitter";
import { conversationRoom } from "@parley/shared/events";
import type { Health } from "@parley/shared/lifecycle";
import type { Logger } from "@parley/shared/logger";
import { Registry } from "@parley/shared/metrics";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { MessagePipeline } from "@parley/shared/messages/message-pipeline";
import type { Models } from "@parley/shared/models";
import type { AccountQueue, AttachmentQueue, PersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import { RateLimiter, rateLimitsFromConfig } from "@parley/shared/rate-limit";
import { redisKeys } from "@parley/shared/redis-keys";
import { SessionRevocations } from "@parley/shared/sessions/revocations";

import { AccountLimits } from "./auth/account-limits.js";
import { KnownAddresses } from "./auth/known-addresses.js";
import { PasswordHasher } from "./auth/password-hasher.js";
import { Sessions } from "./auth/sessions.js";
import type { ApiConfig } from "./config.js";
import type { ApiContext } from "./context.js";
import { ConversationEvents } from "./conversations/conversation-events.js";
import { ConversationViews } from "./conversations/conversation-views.js";
import { authenticate } from "./http/authenticate.js";
import { errorHandler, notFound } from "./http/errors.js";
import { limitMessagePosts, limitRefreshes, limitSearches } from "./http/rate-limit.js";
import { requestId } from "./http/request-id.js";
import { requestMetrics } from "./http/request-metrics.js";
import { edgeHeaders } from "./http/security-headers.js";
import { ApiMetrics } from "./metrics.js";
import { accountRoutes } from "./routes/account.routes.js";
import { attachmentDownloadRoutes, attachmentUploadRoutes } from "./routes/attachments.routes.js";
import { authRoutes } from "./routes/auth.routes.js";
import { callsRoutes } from "./routes/calls.routes.js";
import { conversationsRoutes } from "./routes/conversations.routes.js";
import { docsRoutes } from "./routes/docs.routes.js";
import { messagesRoutes } from "./routes/messages.routes.js";
import { usersRoutes } from "./routes/users.routes.js";

/** Everything the API uses, created by the caller. */
export interface ApiDeps {
  config: ApiConfig;
  log: Logger;
  /** Commands: the member cache, the send script. */
  redis: RedisClient;
  models: Models;
  /** Where sent messages go to be persisted by the worker. */
  queue: PersistQueue;
  /** Where work on a whole account goes for the worker (erasures). */
  accounts: AccountQueue;
  /** Where attachments go to be described and deleted by the worker. */
  attachmentQueue: AttachmentQueue;
  /** The object store of attachments; undefined when they are off (no `S3_BUCKET`). */
  storage: ObjectStorage | undefined;
  /** Reaches live sockets on every gateway. */
  emitter: ParleyEmitter;
  /** Answers `/healthz` and `/readyz`; `index.ts` makes it drain on shutdown. */
  health: Health;
  /**
   * Where requests are counted and timed, and the password hasher reports; `index.ts` passes them on
   * the registry it serves.
   * @default metrics on a registry of their own, which nothing serves
   */
  metrics?: ApiMetrics;
}

const HEALTH_PATHS = new Set(["/healthz", "/readyz"]);

/**
 * Builds the API: health endpoints, then everything under `/api` (JSON, with `{ error }` bodies on
 * failure), then 404 for anything else.
 */
export function createApi(deps: ApiDeps): Express {
  const { config, log, redis, models, queue, accounts, attachmentQueue, emitter, health } = deps;
  const metrics = deps.metrics ?? new ApiMetrics(new Registry());
  const keys = redisKeys(config.REDIS_PREFIX);
  const cache = new ConversationCache(redis, keys, models);
  const attachments = new Attachments({ models, storage: deps.storage, config, log });
  const pipeline = new MessagePipeline({
    redis,
    keys,
    cache,
    queue,
    log,
    attachments: { service: attachments, queue: attachmentQueue },
    deliver: (message) => emitter.to(conversationRoom(message.conversationId)).emit("message:new", message),
    options: {
      clientMsgIdTtlSeconds: config.CLIENT_MSG_ID_TTL_SECONDS,
      streamMaxLength: config.STREAM_MAX_LENGTH,
      streamTtlSeconds: config.STREAM_TTL_SECONDS,
    },
  });
  const revocations = new SessionRevocations(redis, keys);
  const limiter = new RateLimiter({ redis, keys, limits: rateLimitsFromConfig(config), enabled: config.RATE_LIMITS_ENABLED, log });
  const sessions = new Sessions({
    models,
    revocations,
    emitter,
    log,
    settings: {
      jwtSecret: config.JWT_SECRET,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      reuseGraceSeconds: config.REFRESH_TOKEN_REUSE_GRACE_SECONDS,
      maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
    },
  });
  const ctx: ApiContext = {
    config,
    log,
    models,
    cache,
    blocks: new BlockCache(redis, keys, models),
    pipeline,
    events: new ConversationEvents(emitter, log),
    views: new ConversationViews({ redis, keys, cache }),
    sessions,
    revocations,
    limiter,
    hasher: new PasswordHasher({
      concurrency: config.PASSWORD_HASH_CONCURRENCY,
      maxQueue: config.PASSWORD_HASH_QUEUE,
      maxWaitMs: config.PASSWORD_HASH_MAX_WAIT_MS,
      metrics: metrics.passwordHashes,
    }),
    limits: new AccountLimits({ limiter, known: new KnownAddresses({ redis, keys, secret: config.JWT_SECRET }), log }),
    accounts,
    attachments,
    attachmentQueue,
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.TRUST_PROXY);
  app.use(requestMetrics(metrics, { fixedPaths: HEALTH_PATHS }));
  app.use(requestId());
  app.use(edgeHeaders(config));
  app.use(
    pinoHttp({
      logger: log,
      quietReqLogger: true,
      // 503 is an outage or the hasher at capacity, logged at warn by the error handler: not a bug.
      customLogLevel: (_req, res, err) => (res.statusCode === 503 ? "warn" : err || res.statusCode >= 500 ? "error" : "info"),
      autoLogging: { ignore: (req) => HEALTH_PATHS.has(req.url?.split("?")[0] ?? "") },
    }),
  );
  app.use((req, res, next) => {
    if (!health.handle(req, res)) next();
  });
  app.use("/api", apiRouter(ctx));
  app.use(notFound());
  app.use(errorHandler(log));
  return app;
}

/**
 * Everything under `/api`: the OpenAPI document and its reference page, then the routes of the table.
 * Tokens are checked before bodies are parsed, so strangers cannot make us
 * parse, except under `/auth`, whose buckets are named by the body (the username), and where the
 * checks come first in the routes, before any lookup or hash.
 */
function apiRouter(ctx: ApiContext): Router {
  const { models, config, limiter, hasher, limits } = ctx;
  const json = express.json({ limit: config.BODY_LIMIT_BYTES });
  const auth = authenticate({ models, jwtSecret: config.JWT_SECRET, revocations: ctx.revocations });

  const router = Router();
  // The reference, public and cacheable: before the no-store below.
  router.use(docsRoutes({ publicUrl: config.PUBLIC_URL }));
  router.use((_req, res, next) => {
    res.setHeader("cache-control", "no-store");
    next();
  });
  router.use("/auth", json, limitRefreshes(limiter), authRoutes({ models, sessions: ctx.sessions, authenticate: auth, hasher, limits }));
  router.use("/users", auth, limitSearches(limiter), accountRoutes(ctx), json, usersRoutes(ctx));
  router.use("/conversations", auth, limitMessagePosts(limiter), json, conversationsRoutes(ctx), messagesRoutes(ctx), attachmentUploadRoutes(ctx));
  router.use("/attachments", auth, attachmentDownloadRoutes(ctx));
  router.use("/calls", auth, callsRoutes(ctx));
  return router;
}
