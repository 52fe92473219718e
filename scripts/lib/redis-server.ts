/** A private redis-server on a free port, for tests and the local cluster; never the shared one. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { Redis } from "ioredis";

import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

export interface RedisServerOptions {
  /** Working directory (dump and AOF files, log). */
  dir: string;
  port?: number;
  /** Extra `redis-server` arguments, e.g. `["--appendonly", "yes"]`. */
  args?: readonly string[];
}

export interface RedisServer {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startRedisServer({ dir, port, args = [] }: RedisServerOptions): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const actualPort = port ?? (await freePort());
  const proc = new ManagedProcess({
    name: `redis-server :${actualPort}`,
    command: "redis-server",
    args: [
      "--port", String(actualPort),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--save", "",
      "--appendonly", "no",
      // What BullMQ requires: never evict a key to make room.
      "--maxmemory-policy", "noeviction",
      ...args,
    ],
    logFile: join(dir, "redis.log"),
  });
  const url = `redis://127.0.0.1:${actualPort}`;
  await proc.waitUntil(async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      return (await client.ping()) === "PONG";
    } finally {
      client.disconnect();
    }
  }, 10_000);
  return { url, port: actualPort, process: proc, stop: () => proc.stop() };
}
