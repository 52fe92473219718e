/** Gateways built with `createGateway` inside the test process, on a real Redis and MongoDB. */
import { createModels, type Models } from "@parley/shared/models";
import { loadConfig } from "@parley/shared/config";
import { connectMongo, Health } from "@parley/shared/lifecycle";
import { createLogger } from "@parley/shared/logger";
import { createPersistQueue, type PersistQueue } from "@parley/shared/queues";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { createAdapter } from "@socket.io/redis-adapter";
import type { Connection } from "mongoose";

import { createGateway, type Gateway } from "../../services/gateway/src/app.js";
import { gatewayConfigSchema } from "../../services/gateway/src/config.js";
import { TEST_JWT_SECRET } from "./env.js";

export interface GatewayNode {
  gateway: Gateway;
  url: string;
  node: string;
  queue: PersistQueue;
  redis: RedisClient;
  close(): Promise<void>;
}

/** Starts a gateway named `node` on a free port. */
export async function startGatewayNode(
  node: string,
  redisUrl: string,
  models: Models,
  env: Record<string, string> = {},
): Promise<GatewayNode> {
  const config = loadConfig(gatewayConfigSchema, {
    REDIS_URL: redisUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    NODE_ID: node,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...env,
  });
  const log = createLogger({ service: "gateway", node, level: config.LOG_LEVEL });
  const redis = createRedis(redisUrl, { name: `${node}-cmd`, log });
  const pubClient = createRedis(redisUrl, { name: `${node}-pub`, log });
  const subClient = createRedis(redisUrl, { name: `${node}-sub`, log, blocking: true });
  const queue = createPersistQueue(redis, config.QUEUE_PREFIX);
  queue.on("error", (err) => log.error({ err }, "persist queue error"));
  const adapter = createAdapter(pubClient, subClient);
  const gateway = createGateway({ config, log, redis, adapter, models, queue, health: new Health({}) });
  const port = await gateway.listen();
  return {
    gateway,
    url: `http://127.0.0.1:${port}`,
    node,
    queue,
    redis,
    async close() {
      await gateway.close();
      await queue.close();
      for (const client of [redis, pubClient, subClient]) client.disconnect();
    },
  };
}

/** A mongoose connection and models on a database of the test's own. */
export async function openModels(mongoUrl: string): Promise<{ connection: Connection; models: Models }> {
  const log = createLogger({ service: "gateway", node: "test", level: "silent" });
  const connection = await connectMongo(mongoUrl, log);
  const models = createModels(connection);
  await Promise.all(Object.values(models).map((model) => model.init()));
  return { connection, models };
}
