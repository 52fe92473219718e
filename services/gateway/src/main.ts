/**
 * A gateway process, in three steps: {@link GatewayProcess.open} reads the environment once and opens
 * what every gateway needs (Redis, MongoDB, the persist queue, health checks, metrics); the caller builds
 * the gateway on them with an adapter; {@link GatewayProcess.serve} serves it and, on SIGTERM, drains it
 * and closes everything the process opened. {@link runGateway} is parley's gateway process (index.ts).
 */
import { createAdapter } from "@socket.io/redis-adapter";
import type { Connection } from "mongoose";

import { loadConfigOrExit } from "@parley/shared/config";
import { closeServer, connectMongo, exitOnFatalErrors, handleShutdownSignals, Health, listen, mongoReady, redisReady } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createMetricsServer, createRegistry, type Registry } from "@parley/shared/metrics";
import { createModels } from "@parley/shared/models";
import { createObjectStorage } from "@parley/shared/attachments/storage";
import { createAttachmentQueue, createPersistQueue } from "@parley/shared/queues";
import { createRedis, redisTarget, type RedisClient } from "@parley/shared/redis";

import { createGateway, type Gateway, type GatewayDeps } from "./app.js";
import { gatewayConfigSchema } from "./config.js";
import { GatewayMetrics } from "./metrics.js";

/** Everything a gateway needs but its adapter, as {@link GatewayProcess.open} made it. */
export type GatewayProcessDeps = Omit<GatewayDeps, "adapter" | "metrics"> & { metrics: GatewayMetrics };

/** The connections, metrics and health checks of one gateway process, closed together at shutdown. */
export class GatewayProcess {
  private readonly clients: RedisClient[];

  private constructor(
    /** Every dependency of the gateway but its adapter; `redis` runs commands and scripts. */
    readonly deps: GatewayProcessDeps,
    private readonly registry: Registry,
    private readonly mongo: Connection,
  ) {
    this.clients = [deps.redis];
  }

  /** Reads and validates the environment (exiting with every problem named) and opens the connections. */
  static async open(): Promise<GatewayProcess> {
    const config = loadConfigOrExit(gatewayConfigSchema, "gateway");
    const log = createLogger({ service: "gateway", node: config.NODE_ID, level: config.LOG_LEVEL });
    exitOnFatalErrors(log);
    const registry = createRegistry(config.NODE_ID);
    const metrics = new GatewayMetrics(registry);
    const redis = createRedis(redisTarget(config), { name: "gateway", log, errors: metrics.redisErrors });
    const mongo = await connectMongo(config.MONGO_URL, log);
    const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
    queue.on("error", (err) => log.error({ err }, "persist queue error"));
    const attachmentQueue = createAttachmentQueue(redis, config.QUEUE_PREFIX);
    attachmentQueue.on("error", (err) => log.error({ err }, "attachments queue error"));
    const attachments = { storage: createObjectStorage(config, log), queue: attachmentQueue };
    const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });
    return new GatewayProcess({ config, log, metrics, redis, models: createModels(mongo), queue, attachments, health }, registry, mongo);
  }

  /**
   * Opens another Redis connection, named `name` in Redis's CLIENT LIST, counted in the process's
   * metrics and closed at shutdown.
   * @param options.blocking for a connection that subscribes or blocks, and so runs no other command.
   */
  connectRedis(name: string, options: { blocking?: boolean } = {}): RedisClient {
    const { config, log, metrics } = this.deps;
    const client = createRedis(redisTarget(config), { name, log, blocking: options.blocking ?? false, errors: metrics.redisErrors });
    this.clients.push(client);
    return client;
  }

  /**
   * Serves `gateway` (built on {@link deps}) and the metrics, and on SIGTERM or SIGINT drains the gateway,
   * then closes the queue, every Redis connection, MongoDB and last the metrics, under
   * `SHUTDOWN_TIMEOUT_MS`. Resolves once both servers listen.
   */
  async serve(gateway: Gateway): Promise<void> {
    const { config, log, queue, attachments, health } = this.deps;
    const metricsServer = createMetricsServer(this.registry);
    const metricsPort = await listen(metricsServer, config.METRICS_PORT, config.METRICS_HOST);
    const port = await gateway.listen();
    log.info({ port, host: config.HOST, route: config.ROUTE_ID, metricsPort }, "gateway listening");

    handleShutdownSignals({
      log,
      deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
      shutdown: async () => {
        health.startDraining();
        await gateway.close();
        await Promise.all([queue.close(), attachments?.queue.close()]);
        attachments?.storage?.close();
        await Promise.allSettled(this.clients.map((client) => client.quit()));
        await this.mongo.close();
        // Last, so that the drain itself can be scraped.
        await closeServer(metricsServer);
      },
    });
  }
}

/** parley's gateway process: the gateway on the Redis adapter, which has two connections of its own. */
export async function runGateway(): Promise<void> {
  const gatewayProcess = await GatewayProcess.open();
  const adapter = createAdapter(gatewayProcess.connectRedis("gateway-pub"), gatewayProcess.connectRedis("gateway-sub", { blocking: true }));
  await gatewayProcess.serve(createGateway({ ...gatewayProcess.deps, adapter }));
}
