/**
 * A gateway process: reads the environment once, opens every connection, serves, and shuts down
 * cleanly on SIGTERM. The product's entry point (index.ts) runs it as is; the benchmark's variants
 * (scripts/bench/gateway.ts) replace the adapter or the persistence step.
 */
import { loadConfigOrExit } from "@parley/shared/config";
import { closeServer, connectMongo, exitOnFatalErrors, handleShutdownSignals, Health, listen, mongoReady, redisReady } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createMetricsServer, createRegistry } from "@parley/shared/metrics";
import { createModels, type Models } from "@parley/shared/models";
import { createPersistQueue } from "@parley/shared/queues";
import { createRedis, redisTarget } from "@parley/shared/redis";

import { createGateway, type GatewayDeps } from "./app.js";
import { gatewayConfigSchema } from "./config.js";
import { GatewayMetrics } from "./metrics.js";

export interface RunGatewayOptions {
  /**
   * Open the Redis adapter's pub/sub connections. Off only with an adapter of `overrides` that needs
   * none (socket.io's in-memory one). @default true
   */
  adapterConnections?: boolean;
  /** Parts of the gateway to replace, given the process's models. */
  overrides?: (models: Models) => Pick<GatewayDeps, "adapter" | "persistence">;
  /** Fields added to the "gateway listening" log line. */
  logFields?: Record<string, unknown>;
}

export async function runGateway(options: RunGatewayOptions = {}): Promise<void> {
  const config = loadConfigOrExit(gatewayConfigSchema, "gateway");
  const log = createLogger({ service: "gateway", node: config.NODE_ID, level: config.LOG_LEVEL });
  exitOnFatalErrors(log);
  const registry = createRegistry(config.NODE_ID);
  const metrics = new GatewayMetrics(registry);

  const redis = createRedis(redisTarget(config), { name: "gateway", log, errors: metrics.redisErrors });
  const adapterClients =
    options.adapterConnections === false
      ? undefined
      : {
          pub: createRedis(redisTarget(config), { name: "gateway-pub", log, errors: metrics.redisErrors }),
          sub: createRedis(redisTarget(config), { name: "gateway-sub", log, blocking: true, errors: metrics.redisErrors }),
        };
  const mongo = await connectMongo(config.MONGO_URL, log);
  const models = createModels(mongo);
  const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
  queue.on("error", (err) => log.error({ err }, "persist queue error"));
  const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });

  const gateway = createGateway({
    config,
    log,
    redis,
    // Unused when an override's adapter needs no connections of its own.
    pubClient: adapterClients?.pub ?? redis,
    subClient: adapterClients?.sub ?? redis,
    models,
    queue,
    health,
    metrics,
    ...options.overrides?.(models),
  });
  const metricsServer = createMetricsServer(registry);
  const metricsPort = await listen(metricsServer, config.METRICS_PORT, config.METRICS_HOST);
  const port = await gateway.listen();
  log.info({ port, host: config.HOST, route: config.ROUTE_ID, metricsPort, ...options.logFields }, "gateway listening");

  handleShutdownSignals({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    shutdown: async () => {
      health.startDraining();
      await gateway.close();
      await queue.close();
      await Promise.allSettled([redis.quit(), adapterClients?.pub.quit(), adapterClients?.sub.quit()]);
      await mongo.close();
      // Last, so that the drain itself can be scraped.
      await closeServer(metricsServer);
    },
  });
}
