/**
 * The API process: reads the environment, opens the real connections, serves HTTP, and shuts down
 * gracefully on SIGTERM/SIGINT. The only module that does any of that; the rest receives it.
 */
import { createServer } from "node:http";

import { loadConfigOrExit } from "@parley/shared/config";
import { createEmitter } from "@parley/shared/emitter";
import {
  closeServer,
  connectMongo,
  exitOnFatalErrors,
  handleShutdownSignals,
  Health,
  listen,
  mongoReady,
  redisReady,
} from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createMetricsServer, createRegistry } from "@parley/shared/metrics";
import { createModels } from "@parley/shared/models";
import { createObjectStorage } from "@parley/shared/attachments/storage";
import { createAccountQueue, createAttachmentQueue, createPersistQueue } from "@parley/shared/queues";
import { createRedis, redisTarget } from "@parley/shared/redis";

import { createApi } from "./app.js";
import { apiConfigSchema } from "./config.js";
import { ApiMetrics } from "./metrics.js";

const config = loadConfigOrExit(apiConfigSchema, "api");
const log = createLogger({ service: "api", node: config.NODE_ID, level: config.LOG_LEVEL });
exitOnFatalErrors(log);
const registry = createRegistry(config.NODE_ID);
const metrics = new ApiMetrics(registry);

const redis = createRedis(redisTarget(config), { name: "api", log, errors: metrics.redisErrors });
const mongo = await connectMongo(config.MONGO_URL, log);
const models = createModels(mongo);
// Builds the unique indexes (usernames, direct conversation keys) that correctness relies on.
await Promise.all(Object.values(models).map((model) => model.init()));
const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
queue.on("error", (err) => log.error({ err }, "persist queue error"));
const accounts = createAccountQueue(redis, config.QUEUE_PREFIX);
accounts.on("error", (err) => log.error({ err }, "accounts queue error"));
const attachmentQueue = createAttachmentQueue(redis, config.QUEUE_PREFIX);
attachmentQueue.on("error", (err) => log.error({ err }, "attachments queue error"));
const storage = createObjectStorage(config, log);
const emitter = createEmitter(redis, log);
const health = new Health({ redis: redisReady(redis), mongo: mongoReady(mongo) });

const app = createApi({ config, log, redis, models, queue, accounts, attachmentQueue, storage, emitter, health, metrics });
const server = createServer(app);
const metricsServer = createMetricsServer(registry);
const metricsPort = await listen(metricsServer, config.METRICS_PORT, config.METRICS_HOST);
const port = await listen(server, config.PORT, config.HOST);
log.info({ port, host: config.HOST, metricsPort }, "api listening");

handleShutdownSignals({
  log,
  deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
  shutdown: async () => {
    health.startDraining();
    await closeServer(server);
    await Promise.all([queue.close(), accounts.close(), attachmentQueue.close()]);
    storage?.close();
    await redis.quit();
    await mongo.close();
    // Last, so that the drain itself can be scraped.
    await closeServer(metricsServer);
  },
});
