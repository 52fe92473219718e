/**
 * The worker process: reads the environment, opens the real connections, starts the queue consumers
 * and the health server, and shuts all of it down gracefully on SIGTERM / SIGINT.
 */
import { loadConfigOrExit } from "@parley/shared/config";
import {
  Health,
  closeServer,
  connectMongo,
  createHealthServer,
  exitOnFatalErrors,
  handleShutdownSignals,
  listen,
  mongoReady,
  redisReady,
} from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createMetricsServer, createRegistry } from "@parley/shared/metrics";
import { createObjectStorage } from "@parley/shared/attachments/storage";
import { createModels } from "@parley/shared/models";
import { createRedis, redisTarget } from "@parley/shared/redis";

import { createWorker } from "./app.js";
import { workerConfigSchema } from "./config.js";
import { WorkerMetrics } from "./metrics.js";

const config = loadConfigOrExit(workerConfigSchema, "worker");
const log = createLogger({ service: "worker", node: config.NODE_ID, level: config.LOG_LEVEL });
exitOnFatalErrors(log);

async function main(): Promise<void> {
  const registry = createRegistry(config.NODE_ID);
  const metrics = new WorkerMetrics(registry, log);
  const queueRedis = createRedis(redisTarget(config), { name: "worker-queue", log, blocking: true, errors: metrics.redisErrors });
  const redis = createRedis(redisTarget(config), { name: "worker-emitter", log, errors: metrics.redisErrors });
  const mongo = await connectMongo(config.MONGO_URL, log);
  const models = createModels(mongo);
  // The unique (conversationId, seq) index is what turns a seq conflict into an error: build it first.
  await Promise.all([models.Message.init(), models.Conversation.init(), models.Receipt.init(), models.Attachment.init()]);

  const storage = createObjectStorage(config, log);
  const worker = createWorker({ queueRedis, redis, models, config, log, metrics, storage });

  const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });
  const server = createHealthServer(health);
  const metricsServer = createMetricsServer(registry);
  const metricsPort = await listen(metricsServer, config.METRICS_PORT, config.METRICS_HOST);
  await listen(server, config.PORT, config.HOST);
  log.info(
    { port: config.PORT, host: config.HOST, metricsPort, batchSize: config.PERSIST_BATCH_SIZE, batchWaitMs: config.PERSIST_BATCH_WAIT_MS },
    "worker ready",
  );

  handleShutdownSignals({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    async shutdown() {
      health.startDraining();
      await worker.close();
      await closeServer(server);
      await Promise.allSettled([queueRedis.quit(), redis.quit()]);
      await mongo.close();
      // Last, so that the drain itself can be scraped.
      await closeServer(metricsServer);
    },
  });
}

main().catch((err: unknown) => {
  log.fatal({ err }, "worker failed to start");
  process.exit(1);
});

