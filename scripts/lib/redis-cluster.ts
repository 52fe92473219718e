/**
 * A private Redis Cluster on free ports, for tests, benchmarks and `REDIS_CLUSTER=1 npm start`: N
 * masters (three by default, the smallest cluster Redis allows), no replicas, each a `redis-server
 * --cluster-enabled yes` with a nodes file of its own, joined with `redis-cli --cluster create`.
 *
 * It starts empty every time: the nodes get new ports, so an old nodes file could not be reused.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { setTimeout as delay } from "node:timers/promises";

import { Redis } from "ioredis";

import { startRedisServer, type RedisServer } from "./redis-server.js";

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Working directory: one subdirectory per node (nodes file, log). */
  dir: string;
  /** @default 3 */
  masters?: number;
  /** Extra `redis-server` arguments for every node. */
  args?: readonly string[];
  /** How long to wait for `cluster_state:ok` on every node. @default 30000 */
  timeoutMs?: number;
}

export interface RedisCluster {
  /** One node per master, in start order. */
  nodes: RedisServer[];
  /** `127.0.0.1:<port>,…`: the value of `REDIS_CLUSTER_NODES`. */
  seeds: string;
  /** Stops every node. */
  stop(): Promise<void>;
}

export async function startRedisCluster({ dir, masters = 3, args = [], timeoutMs = 30_000 }: RedisClusterOptions): Promise<RedisCluster> {
  if (masters < 3) throw new Error("a Redis Cluster needs at least three masters");
  rmSync(dir, { recursive: true, force: true });
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisServer({
          dir: join(dir, `node-${i}`),
          args: [
            "--cluster-enabled", "yes",
            // Relative to the node's --dir: one nodes file per node.
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000",
            ...args,
          ],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"], {
      timeout: timeoutMs,
    });
    await waitForClusterOk(nodes, masters, timeoutMs);
    return { nodes, seeds: addresses.join(","), stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** Waits until every node reports `cluster_state:ok`, every slot assigned, and knows every master. */
async function waitForClusterOk(nodes: readonly RedisServer[], masters: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = nodes.map((node) => {
    const client = new Redis(node.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    return client;
  });
  try {
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.cluster("INFO").catch(() => "")));
      const ok = infos.every(
        (info) =>
          info.includes("cluster_state:ok") &&
          info.includes("cluster_slots_ok:16384") &&
          info.includes(`cluster_known_nodes:${masters}`),
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not ok after ${timeoutMs} ms:\n${infos.join("\n---\n")}`);
      await delay(100);
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
}
