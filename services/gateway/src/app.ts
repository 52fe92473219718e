/**
 * `createGateway(deps)`: a Socket.IO server on the adapter it is given (the Redis adapter, in every
 * deployment), with the handshake, session and feature handlers wired in. It opens no connection of its
 * own, so tests can run several on one Redis.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { setTimeout as delay } from "node:timers/promises";

import { Server, type ServerOptions } from "socket.io";

import { Attachments } from "@parley/shared/attachments/attachments";
import type { ObjectStorage } from "@parley/shared/attachments/storage";
import { BlockCache } from "@parley/shared/blocks/block-cache";
import { allowedOrigins } from "@parley/shared/config";
import { logFailure } from "@parley/shared/errors";
import { conversationRoom } from "@parley/shared/events";
import { listen, type Health } from "@parley/shared/lifecycle";
import type { Logger } from "@parley/shared/logger";
import { Registry } from "@parley/shared/metrics";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { MessagePipeline } from "@parley/shared/messages/message-pipeline";
import type { Models } from "@parley/shared/models";
import type { AttachmentQueue, PersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";

import { handshake } from "./auth/authenticate.js";
import { callsFeature } from "./calls/calls.feature.js";
import type { GatewayConfig } from "./config.js";
import type { GatewayServer } from "./lib/types.js";
import { RECONNECT_SETTLE_MS, closeSocketsGradually, refuseNewSessionsWhile } from "./lib/drain.js";
import type { FeatureContext, GatewayFeature } from "./lib/feature.js";
import { createEventLimiter } from "./limits/event-limits.js";
import { createEventDispatcher } from "./lib/on-event.js";
import { guardOrigins } from "./lib/origin-guard.js";
import { instrumentServer } from "./lib/server-metrics.js";
import { releaseUpgradeRequests } from "./lib/upgrade-requests.js";
import { GatewayMetrics } from "./metrics.js";
import { messagesFeature } from "./messages/messages.feature.js";
import { presenceFeature } from "./presence/presence.feature.js";
import { receiptsFeature } from "./receipts/receipts.feature.js";
import { startSession } from "./session/session.js";
import { sessionsFeature } from "./session/sessions.feature.js";
import { syncFeature } from "./sync/sync.feature.js";
import { typingFeature } from "./typing/typing.feature.js";

export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  /** Commands and scripts. */
  redis: RedisClient;
  /**
   * The Socket.IO adapter (socket.io's `adapter` server option), which carries every room broadcast to
   * the other gateways: `createAdapter(pubClient, subClient)` of @socket.io/redis-adapter, on two
   * connections of its own (the subscribing one runs no other command).
   */
  adapter: ServerOptions["adapter"];
  models: Models;
  queue: PersistQueue;
  /**
   * The object store of attachments and the queue that has them described and deleted. Without both,
   * sends with attachments are refused and deleted messages' attachments stay in the store.
   */
  attachments?: { storage: ObjectStorage | undefined; queue: AttachmentQueue } | undefined;
  health: Health;
  /**
   * Where the gateway records its metrics; `index.ts` passes them on the registry it serves.
   * @default metrics on a registry of their own, which nothing serves
   */
  metrics?: GatewayMetrics;
}

export interface Gateway {
  io: GatewayServer;
  /** This gateway's metrics (those of {@link GatewayDeps.metrics}, when given). */
  metrics: GatewayMetrics;
  httpServer: HttpServer;
  /** Starts listening on `config.HOST:config.PORT`; resolves with the bound port. */
  listen(): Promise<number>;
  /**
   * Drains and stops: refuses new sessions (503), closes the sockets a few at a time so that clients
   * reconnect to other gateways, lets them settle, stops every feature, then closes the servers.
   */
  close(): Promise<void>;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { config, log, models } = deps;
  const node = config.NODE_ID;
  const metrics = deps.metrics ?? new GatewayMetrics(new Registry());

  const httpServer = createServer();
  const io: GatewayServer = new Server(httpServer, {
    adapter: deps.adapter,
    serveClient: false,
    maxHttpBufferSize: config.MAX_PAYLOAD_BYTES,
    pingInterval: config.PING_INTERVAL_MS,
    pingTimeout: config.PING_TIMEOUT_MS,
    connectTimeout: config.CONNECT_TIMEOUT_MS,
  });
  // Health checks share the port with Socket.IO; Engine.IO only claims /socket.io/.
  httpServer.prependListener("request", (req, res) => {
    if (!req.url?.startsWith("/socket.io/") && !deps.health.handle(req, res)) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "NOT_FOUND", message: "Not found" } }));
    }
  });
  instrumentServer(io, metrics, log);
  releaseUpgradeRequests(io);
  let draining = false;
  refuseNewSessionsWhile(httpServer, () => draining);
  guardOrigins(httpServer, allowedOrigins(config.ALLOWED_ORIGINS, config.PUBLIC_URL));
  if (config.ROUTE_ID) {
    const route = config.ROUTE_ID;
    io.engine.generateId = () => `${route}.${randomBytes(15).toString("base64url")}`;
  }

  const keys = redisKeys(config.REDIS_PREFIX);
  const events = createEventDispatcher({ log, metrics, limiter: createEventLimiter({ redis: deps.redis, keys, config, log }) });
  const cache = new ConversationCache(deps.redis, keys, models);
  const attachmentQueue = deps.attachments?.queue;
  const attachments = attachmentQueue && {
    service: new Attachments({ models, storage: deps.attachments?.storage, config, log }),
    queue: attachmentQueue,
  };
  const pipeline = new MessagePipeline({
    redis: deps.redis,
    keys,
    cache,
    queue: deps.queue,
    log,
    attachments,
    deliver: (message, exceptSocketId) => {
      const room = io.to(conversationRoom(message.conversationId));
      (exceptSocketId ? room.except(exceptSocketId) : room).emit("message:new", message);
    },
    options: {
      clientMsgIdTtlSeconds: config.CLIENT_MSG_ID_TTL_SECONDS,
      streamMaxLength: config.STREAM_MAX_LENGTH,
      streamTtlSeconds: config.STREAM_TTL_SECONDS,
    },
  });

  const context: FeatureContext = {
    io,
    config,
    log,
    node,
    redis: deps.redis,
    keys,
    models,
    queue: deps.queue,
    attachmentQueue,
    cache,
    blocks: new BlockCache(deps.redis, keys, models),
    pipeline,
    health: deps.health,
    onEvent: events.onEvent,
  };
  // Calls end the calls of sockets that presence finds gone with a dead gateway.
  const calls = callsFeature(context);
  const presence = presenceFeature(context, { onSocketsGone: (sockets) => calls.socketsGone(sockets) });
  // Each feature is one module; the order is the order of their connection and session hooks.
  const features: GatewayFeature[] = [
    sessionsFeature(context),
    messagesFeature(context),
    syncFeature(context),
    receiptsFeature(context),
    presence,
    typingFeature(context),
    calls,
  ];

  // Half the connect window: a refusal must reach the client before Socket.IO closes the connection.
  io.use(handshake(features, { secret: config.JWT_SECRET, models, log, deadlineMs: Math.floor(config.CONNECT_TIMEOUT_MS / 2) }));
  io.on("connection", (socket) => {
    const socketLog = log.child({ socketId: socket.id, userId: socket.data.userId });
    if (log.isLevelEnabled("debug")) {
      socketLog.debug({ transport: socket.conn.transport.name }, "socket connected");
      socket.on("disconnect", (reason) => socketLog.debug({ reason }, "socket disconnected"));
    }
    events.attach(socket);
    for (const feature of features) feature.onConnection?.(socket);
    startSession(socket, { node, cache, features, log: socketLog }).catch((err: unknown) => {
      logFailure(socketLog, err, {}, "session setup failed, disconnecting");
      // UNAVAILABLE whatever the cause: the lookups were retried already, and reconnecting is the remedy.
      socket.emit("error", { code: "UNAVAILABLE", message: "Session setup failed, reconnect shortly", event: "session" });
      socket.disconnect(true);
    });
  });
  for (const feature of features) feature.start?.();

  return {
    io,
    metrics,
    httpServer,
    listen: () => listen(httpServer, config.PORT, config.HOST),
    close: async () => {
      draining = true;
      for (const feature of features) feature.drain?.();
      const closed = await closeSocketsGradually(io, config.DRAIN_SPREAD_MS);
      log.info({ sockets: closed }, "sockets closed; clients reconnect to other gateways");
      if (closed > 0) await delay(RECONNECT_SETTLE_MS);
      await Promise.all(features.map((f) => f.stop?.()));
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
