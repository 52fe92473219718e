/**
 * The connection-capacity run: N sockets held through nginx across the cluster as shipped (a), idle
 * but for Engine.IO's heartbeat, with the gateways' heap per socket.
 *
 * Users are seeded straight into MongoDB through the data model (one shared password hash, tokens
 * signed with the cluster's secret): registering 20 000 users through the API would spend minutes in
 * scrypt, which is not what this run measures. Each user is a member of one group of five, like the
 * `chat` scenario's, so every socket joins its user room and one conversation room.
 *
 * On FerretDB (no `MONGO_URL`) the users' conversation lists are cached in Redis before the ramp, as a
 * fleet reconnecting after a deploy finds them: FerretDB has no multikey index, so each cold connect's
 * lookup of its user's conversations would read all of them (4,000 groups for 20,000 users) and the run
 * would measure FerretDB's scans, not the sockets held. On MongoDB the connects stay cold.
 *
 * Open files: every process may hold at most the hard `RLIMIT_NOFILE` (`ulimit -Hn`) descriptors,
 * which a process without CAP_SYS_RESOURCE cannot raise; Node.js and Go raise their soft limit to
 * it by themselves, nginx through `worker_rlimit_nofile`. So k6 runs as several processes, and nginx
 * (two descriptors per WebSocket) with enough workers, each under the limit.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import mongoose, { Types } from "mongoose";
import { pino } from "pino";

import { hashPassword, signAccessToken } from "@parley/shared/auth";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { createModels, type Models } from "@parley/shared/models";
import { createRedis } from "@parley/shared/redis";
import { redisKeys } from "@parley/shared/redis-keys";

import { ROOT } from "../lib/paths.js";

/** Preload of the gateways: a full GC on SIGUSR2 (see gc-on-signal.mjs). */
const GC_PRELOAD = join(ROOT, "scripts/bench/gc-on-signal.mjs");
import { BENCH_JWT_SECRET } from "./common.js";
import { runK6 } from "./k6.js";
import { ProcessSampler, type UsageReport } from "./proc.js";
import { sum } from "./prometheus.js";
import { MetricsSampler, type Scrape } from "./service-metrics.js";
import { startTarget } from "./targets.js";

export interface CapacityOptions {
  sockets: number;
  /** Seconds to connect them all, then to hold them (at least {@link minHoldSeconds}). */
  rampSeconds: number;
  holdSeconds: number;
  dir: string;
  mongoUrl?: string | undefined;
  cores: number;
  /** Write a heap snapshot of each gateway with each of the run's two heap readings (into `dir`). */
  heapSnapshots?: boolean;
  progress?: (line: string) => void;
}

export interface CapacityResult {
  requested: number;
  /** Sockets connected on the gateways at the end of the hold (their own gauge). */
  held: number;
  /** Sockets k6 saw reach `session:ready`. */
  ready: number;
  /** Sockets that never reached `session:ready`, and disconnections during the hold. */
  connectErrors: number;
  disconnects: number;
  gateways: number;
  perGateway: number[];
  holdSeconds: number;
  connectTimeP99Ms: number | undefined;
  /** Gateways' heap used, summed, each read after a full garbage collection: before any socket, and with every socket held. */
  idleHeapBytes: number;
  heapBytes: number;
  heapPerSocketBytes: number;
  /** (heap during the hold − idle heap) / sockets: what one more socket costs. */
  marginalHeapPerSocketBytes: number;
  rssPerSocketBytes: number;
  nginxRssBytes: number;
  openFileLimit: number;
  nginxWorkers: number;
  k6Processes: number;
  usage: UsageReport;
  valid: boolean;
  notes: string[];
}

/** The hard limit on open files of processes started from here. */
export function openFileLimit(): number {
  try {
    return Number(execFileSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim()) || 1024;
  } catch {
    return 1024;
  }
}

/**
 * The shortest hold that is measured: the heap is read 5 s into it, after a full GC given 4.5 s (20 s
 * with heap snapshots), and the sockets must still be held then, and for the scrapes after it.
 */
export function minHoldSeconds(heapSnapshots: boolean | undefined): number {
  return heapSnapshots ? 30 : 15;
}

/** Why a hold of `holdSeconds` is too short to measure, or undefined when it is long enough. */
export function holdTooShort(holdSeconds: number, heapSnapshots: boolean | undefined): string | undefined {
  const min = minHoldSeconds(heapSnapshots);
  if (holdSeconds >= min) return undefined;
  return `the sockets must be held at least ${min} s${heapSnapshots ? " with heap snapshots" : ""}, not ${holdSeconds} s`;
}

export async function runCapacity(options: CapacityOptions): Promise<CapacityResult> {
  const { sockets } = options;
  const tooShort = holdTooShort(options.holdSeconds, options.heapSnapshots);
  if (tooShort) throw new Error(`capacity run: ${tooShort}`);
  const limit = openFileLimit();
  // Headroom for everything else a process opens (Redis, logs, the metrics server, nginx upstreams).
  const perProcess = Math.floor(limit * 0.8);
  const k6Processes = Math.max(1, Math.ceil(sockets / perProcess));
  const nginxWorkers = Math.max(options.cores, Math.ceil((2 * sockets) / (perProcess * 0.6)));
  const notes = [
    `Open-file limit ${limit} per process: ${k6Processes} k6 processes, ${nginxWorkers} nginx workers.`,
    "Users seeded through the data model (one group of five each), tokens signed locally.",
  ];
  mkdirSync(options.dir, { recursive: true });
  const target = await startTarget("a", {
    dir: options.dir,
    mongoUrl: options.mongoUrl,
    nginxWorkers,
    gatewayNodeFlags: ["--expose-gc", "--import", GC_PRELOAD],
    ...(options.heapSnapshots ? { env: { PARLEY_HEAP_SNAPSHOT_DIR: options.dir } } : {}),
  });
  if (options.heapSnapshots) notes.push(`Heap snapshots of each gateway, idle then holding the sockets: ${options.dir}/gateway-<pid>-<n>.heapsnapshot.`);
  const gatewayPids = target.processes.filter((p) => p.name.startsWith("gateway")).map((p) => p.pid);
  /** Fully collects every gateway's garbage, then resolves with a scrape taken after it. */
  const afterFullGc = async (metrics: MetricsSampler): Promise<Scrape> => {
    for (const pid of gatewayPids) process.kill(pid, "SIGUSR2");
    const at = Date.now();
    // A heap snapshot blocks the gateway for seconds: give it the time before reading the heap.
    await delay(options.heapSnapshots ? 20_000 : 4500);
    return metrics.scrapes.find((s) => s.at > at + 500) ?? metrics.scrapes.at(-1)!;
  };
  try {
    const tokens = await seedUsers(target.mongoUrl, sockets, options.mongoUrl ? undefined : target.redisUrl);
    if (!options.mongoUrl) notes.push("FerretDB: the users' conversation lists were cached in Redis before the ramp (no multikey index to look them up).");
    const files: string[] = [];
    for (let i = 0; i < k6Processes; i++) {
      const file = join(options.dir, `tokens-${i}.json`);
      writeFileSync(file, JSON.stringify(tokens.filter((_, j) => j % k6Processes === i)));
      files.push(file);
    }

    const metrics = new MetricsSampler(target.gatewayMetrics, 2000);
    await metrics.start();
    const idle = await afterFullGc(metrics);
    const watched = [...target.processes];
    const processes = new ProcessSampler(() => watched, 2000);
    processes.start();
    const runs = files.map((file, i) =>
      runK6({
        scenario: join(ROOT, "scripts/bench/hold-sockets.js"),
        env: {
          SOCKET_URL: target.socketUrl,
          TOKENS_FILE: file,
          RAMP: String(options.rampSeconds * 1000),
          HOLD: String(options.holdSeconds * 1000),
          VUS: String(Math.max(1, Math.ceil(tokens.length / k6Processes / 500))),
        },
        summaryFile: join(options.dir, `k6-summary-${i}.json`),
        logFile: join(options.dir, `k6-${i}.log`),
      }),
    );
    runs.forEach((run, i) => run.process.pid && watched.push({ name: `k6-${i}`, pid: run.process.pid }));
    const holdStart = Date.now() + 1000 + options.rampSeconds * 1000 + 5000;
    const holdEnd = holdStart + options.holdSeconds * 1000 - 5000;
    // The heap the sockets hold: read after a full GC once every socket is connected.
    const heldScrape = delay(holdStart - Date.now()).then(() => afterFullGc(metrics));
    const ticker = setInterval(() => {
      const last = metrics.scrapes.at(-1);
      if (last) options.progress?.(`capacity: ${gatewaySum(last, target.gatewayMetrics, "parley_gateway_connected_sockets")} sockets`);
    }, 15_000);
    let outcomes;
    let afterGc: Scrape;
    try {
      [outcomes, afterGc] = await Promise.all([Promise.all(runs.map((r) => r.done)), heldScrape]);
    } finally {
      clearInterval(ticker);
      processes.stop();
      await metrics.stop();
    }
    const hold = metrics.scrapes.filter((s) => s.at >= holdStart && s.at <= holdEnd);
    const window = hold.length ? hold : metrics.scrapes;
    const last = window.at(-1)!;
    const held = gatewaySum(last, target.gatewayMetrics, "parley_gateway_connected_sockets");
    const perGateway = target.gatewayMetrics.map((g) => sum(last.by.get(g.name) ?? [], "parley_gateway_connected_sockets"));
    const mean = (f: (s: Scrape) => number) => window.reduce((a, s) => a + f(s), 0) / window.length;
    const heapBytes = gatewaySum(afterGc, target.gatewayMetrics, "nodejs_heap_size_used_bytes");
    const rssBytes = mean((s) => gatewaySum(s, target.gatewayMetrics, "process_resident_memory_bytes"));
    const idleHeapBytes = gatewaySum(idle, target.gatewayMetrics, "nodejs_heap_size_used_bytes");
    const count = (name: string) => outcomes.reduce((a, o) => a + (o.summary.raw[name]?.count ?? 0), 0);
    const usage = processes.usage(holdStart, holdEnd);
    const k6Cpu = Object.entries(usage.processes)
      .filter(([name]) => name.startsWith("k6"))
      .reduce((a, [, u]) => a + u.cpuPercent, 0);
    const connectTimeP99 = Math.max(...outcomes.map((o) => o.summary.raw.connect_time?.["p(99)"] ?? NaN));
    return {
      requested: sockets,
      held,
      ready: count("sockets_ready"),
      connectErrors: count("connect_errors"),
      disconnects: count("disconnects"),
      gateways: target.gatewayMetrics.length,
      perGateway,
      holdSeconds: (window.at(-1)!.at - window[0]!.at) / 1000,
      connectTimeP99Ms: Number.isFinite(connectTimeP99) ? connectTimeP99 : undefined,
      idleHeapBytes,
      heapBytes,
      heapPerSocketBytes: heapBytes / Math.max(1, held),
      marginalHeapPerSocketBytes: (heapBytes - idleHeapBytes) / Math.max(1, held),
      rssPerSocketBytes: rssBytes / Math.max(1, held),
      nginxRssBytes: usage.processes.nginx?.rssMeanBytes ?? 0,
      openFileLimit: limit,
      nginxWorkers,
      k6Processes,
      usage,
      valid: k6Cpu / (100 * options.cores) < 0.5 && usage.machineBusyPercent < 95,
      notes,
    };
  } finally {
    await target.stop();
  }
}

function gatewaySum(scrape: Scrape, gateways: readonly { name: string }[], metric: string): number {
  return gateways.reduce((total, g) => total + sum(scrape.by.get(g.name) ?? [], metric), 0);
}

/**
 * `count` users in groups of five, straight into MongoDB; resolves with one token per user. With
 * `warmRedisUrl`, caches their conversation lists in that Redis too.
 */
async function seedUsers(mongoUrl: string, count: number, warmRedisUrl?: string): Promise<string[]> {
  const connection = await mongoose.createConnection(mongoUrl).asPromise();
  try {
    const models = createModels(connection);
    const { User, Conversation } = models;
    const passwordHash = await hashPassword("capacity-run-password");
    const run = Date.now().toString(36);
    const ids = Array.from({ length: count }, () => new Types.ObjectId());
    for (let i = 0; i < count; i += 2000) {
      await User.insertMany(
        ids.slice(i, i + 2000).map((_id, k) => {
          const username = `cap${run}_${i + k}`;
          return { _id, username, usernameLower: username, displayName: username, passwordHash };
        }),
      );
    }
    const groups: Types.ObjectId[][] = [];
    for (let i = 0; i < count; i += 5) groups.push(ids.slice(i, i + 5));
    for (let i = 0; i < groups.length; i += 1000) {
      await Conversation.insertMany(
        groups.slice(i, i + 1000).map((members) => {
          const _id = new Types.ObjectId();
          return { _id, type: "group", name: "capacity", key: `g:${_id.toHexString()}`, members, admins: [members[0]], createdBy: members[0] };
        }),
      );
    }
    if (warmRedisUrl) await cacheConversationLists(warmRedisUrl, models, ids.map((id) => id.toHexString()));
    return ids.map((id) => signAccessToken({ userId: id.toHexString(), sessionId: new Types.ObjectId().toHexString() }, BENCH_JWT_SECRET, 24 * 3600).token);
  } finally {
    await connection.close();
  }
}

/** Fills the gateways' cache of each user's conversations, a thousand users per MongoDB query. */
async function cacheConversationLists(redisUrl: string, models: Models, userIds: readonly string[]): Promise<void> {
  const redis = createRedis(redisUrl, { name: "bench-capacity", log: pino({ level: "silent" }) });
  try {
    const cache = new ConversationCache(redis, redisKeys("parley"), models);
    for (let i = 0; i < userIds.length; i += 1000) await cache.conversationsOfUsers(userIds.slice(i, i + 1000));
  } finally {
    redis.disconnect();
  }
}
