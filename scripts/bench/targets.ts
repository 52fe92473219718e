/**
 * The systems `npm run bench` measures, each started on this machine in turn:
 *
 * - (a) `cluster`: parley as shipped. `startCluster`: nginx, two gateways on the Redis adapter, the
 *   API, the worker persisting in batches, Redis and MongoDB (FerretDB unless `MONGO_URL`).
 * - (b) `single`: the ceiling of the stack. One gateway process with the same handlers on socket.io's
 *   in-memory adapter, without nginx and without persistence (scripts/bench/gateway.ts `in-memory`);
 *   the API runs alongside only for the load generator's setup; sockets go straight to the gateway.
 * - (c) `persist-first`: "write to the database, then emit". Like (a), but each gateway upserts every
 *   message into MongoDB before delivering and acknowledging it (scripts/bench/gateway.ts
 *   `persist-first`); the worker runs for the other jobs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { Redis } from "ioredis";

import { createService, serviceEnv, startCluster, type Service } from "../lib/cluster.js";
import { startFerretDb, withDatabase } from "../lib/ferretdb.js";
import { ONE_ADDRESS_LIMITS } from "../lib/one-address-limits.js";
import { LOAD_GENERATOR_NGINX_LIMITS } from "../lib/nginx.js";
import { ROOT, SERVICE_ENTRY } from "../lib/paths.js";
import type { ManagedProcess } from "../lib/process.js";
import { startRedisServer } from "../lib/redis-server.js";
import { BENCH_JWT_SECRET } from "./common.js";
import type { WatchedProcess } from "./proc.js";

export const TARGET_IDS = ["a", "b", "c"] as const;
export type TargetId = (typeof TARGET_IDS)[number];

export const TARGET_LABELS: Record<TargetId, string> = {
  a: "(a) cluster as shipped",
  b: "(b) single process, in-memory",
  c: "(c) persist first, then emit",
};

/** Node.js arguments of the bench gateway of (b) and (c): TypeScript through tsx, without its source maps. */
const BENCH_GATEWAY_ARGS = ["--import", "tsx", "--import", join(ROOT, "scripts/bench/no-source-maps.mjs"), join(ROOT, "scripts/bench/gateway.ts")];

/** A target, started and ready for the load generator. */
export interface RunningTarget {
  id: TargetId;
  label: string;
  /** Where the load generator's setup() registers users and creates conversations. */
  apiUrl: string;
  /** Where its sockets connect. */
  socketUrl: string;
  /** Every process of the target, by name, for the CPU and memory sampler. */
  processes: WatchedProcess[];
  /** The gateways' `/metrics` (sockets, heap, RSS). */
  gatewayMetrics: { name: string; url: string }[];
  /** The worker's `/metrics` (persistence lag, queue), when the target persists through it. */
  workerMetrics?: string;
  /** The target's MongoDB database. */
  mongoUrl: string;
  /** The target's Redis. */
  redisUrl: string;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Logs, generated configs and data of this target. */
  dir: string;
  /** Use this MongoDB (with a database per target) instead of a FerretDB of the target's own. */
  mongoUrl?: string | undefined;
  /**
   * Environment for every service (tuning under test), over `ONE_ADDRESS_LIMITS`: k6 registers every
   * user from this machine.
   */
  env?: Record<string, string>;
  /** Extra Node.js flags for the gateways (e.g. `--cpu-prof`). */
  gatewayNodeFlags?: readonly string[];
  /** Extra Node.js flags for the worker of (a) and (c). */
  workerNodeFlags?: readonly string[];
  /** nginx worker processes (the connection-capacity run needs more than one per core). */
  nginxWorkers?: number;
  /** Serve the target's FerretDB's Go profiles on this `host:port` (`--profile`). */
  ferretDbDebugAddr?: string | undefined;
  /** @default "warn" */
  logLevel?: string;
}

function watched(name: string, process: ManagedProcess | undefined): WatchedProcess[] {
  return process?.pid ? [{ name, pid: process.pid }] : [];
}

function serviceProcesses(services: readonly Service[]): WatchedProcess[] {
  return services.flatMap((s) => watched(s.name, s.process));
}

/** Starts target `id`; resolves once every process answers. */
export async function startTarget(id: TargetId, options: TargetOptions): Promise<RunningTarget> {
  const logLevel = options.logLevel ?? "warn";
  const mongoUrl = options.mongoUrl ? withDatabase(options.mongoUrl, `bench_${id}_${Date.now()}`) : undefined;
  const flags = options.gatewayNodeFlags ?? [];

  if (id === "a" || id === "c") {
    const cluster = await startCluster({
      dir: options.dir,
      gateways: 2,
      jwtSecret: BENCH_JWT_SECRET,
      logLevel,
      ...(mongoUrl ? { mongoUrl } : {}),
      env: { ...ONE_ADDRESS_LIMITS, ...options.env },
      ...(options.nginxWorkers ? { nginxWorkers: options.nginxWorkers } : {}),
      // The load generator opens every socket and request from 127.0.0.1.
      nginxLimits: LOAD_GENERATOR_NGINX_LIMITS,
      ferretDbDebugAddr: options.ferretDbDebugAddr,
      // As the image runs them: `node dist/index.js`, without the local cluster's
      // `--enable-source-maps`, which keeps the source map of every loaded module in the heap.
      nodeArgsFor: {
        gateway: id === "a" ? [...flags, SERVICE_ENTRY.gateway] : [...flags, ...BENCH_GATEWAY_ARGS],
        api: [SERVICE_ENTRY.api],
        worker: [...(options.workerNodeFlags ?? []), SERVICE_ENTRY.worker],
      },
      envFor: id === "c" ? { gateway: { BENCH_GATEWAY: "persist-first" } } : {},
    });
    const redisPid = await pidListening(cluster.redisUrl);
    return {
      id,
      label: TARGET_LABELS[id],
      apiUrl: cluster.url,
      socketUrl: cluster.url,
      processes: [
        ...watched("nginx", cluster.nginx),
        ...serviceProcesses(cluster.gateways),
        ...serviceProcesses([cluster.api, cluster.worker]),
        ...(redisPid ? [{ name: "redis", pid: redisPid }] : []),
        ...ferretProcess(),
      ],
      gatewayMetrics: cluster.gateways.map((g) => ({ name: g.name, url: g.metricsUrl })),
      ...(id === "a" ? { workerMetrics: cluster.worker.metricsUrl } : {}),
      mongoUrl: cluster.mongoUrl,
      redisUrl: cluster.redisUrl,
      stop: () => cluster.stop(),
    };
  }

  // (b): Redis, MongoDB, the API and one bench gateway, without nginx or the worker.
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const item of started.reverse()) await item.stop().catch(() => {});
  };
  try {
    const redis = await startRedisServer({ dir: join(options.dir, "redis") });
    started.push(redis);
    let db = mongoUrl;
    let ferretPid: number | undefined;
    if (!db) {
      const ferret = await startFerretDb({ dataDir: join(options.dir, "ferretdb") });
      started.push(ferret);
      ferretPid = ferret.process.pid;
      db = withDatabase(ferret.uri, "parley");
    }
    const common = serviceEnv({ redisUrl: redis.url, mongoUrl: db, jwtSecret: BENCH_JWT_SECRET, logLevel, env: { ...ONE_ADDRESS_LIMITS, ...options.env } });
    const api = await createService({ kind: "api", name: "api", dir: options.dir, env: common, nodeArgs: [SERVICE_ENTRY.api] });
    const gateway = await createService({
      kind: "gateway",
      name: "gateway-0",
      dir: options.dir,
      env: { ...common, BENCH_GATEWAY: "in-memory" },
      nodeArgs: [...flags, ...BENCH_GATEWAY_ARGS],
    });
    started.push(api, gateway);
    await Promise.all([api.start(), gateway.start()]);
    return {
      id,
      label: TARGET_LABELS[id],
      apiUrl: api.url,
      socketUrl: gateway.url,
      processes: [
        ...serviceProcesses([gateway, api]),
        ...watched("redis", redis.process),
        ...(ferretPid ? [{ name: "ferretdb", pid: ferretPid }] : []),
      ],
      gatewayMetrics: [{ name: gateway.name, url: gateway.metricsUrl }],
      mongoUrl: db,
      redisUrl: redis.url,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }

  /** The FerretDB that `startCluster` started for this target, found by its command line. */
  function ferretProcess(): WatchedProcess[] {
    if (mongoUrl) return [];
    const pid = pidByCommand(join(options.dir, "ferretdb"));
    return pid ? [{ name: "ferretdb", pid }] : [];
  }
}

/** The pid of the process whose command line contains `needle` (a data directory unique to a target). */
function pidByCommand(needle: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) return pid;
    } catch {
      // Gone.
    }
  }
  return undefined;
}

/** The pid of the redis-server at `url`, from its own INFO. */
async function pidListening(url: string): Promise<number | undefined> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  try {
    await client.connect();
    const info = await client.info("server");
    return Number(/process_id:(\d+)/.exec(info)?.[1]) || undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}
