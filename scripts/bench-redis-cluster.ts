/**
 * Benchmark: the classic Socket.IO Redis adapter on a three-master Redis Cluster against a single Redis.
 *
 *   npx tsx scripts/bench-redis-cluster.ts
 *
 * Starts both setups in the same run (each: its Redis, two gateways, the API, the worker and nginx; one
 * FerretDB with a database per setup), connects real socket.io-client senders to gateway 0 and their
 * receivers to gateway 1, so that every delivery crosses the adapter, and pushes the same load through
 * each, in alternating rounds:
 * - saturation: every sender keeps WINDOW sends in flight until it has sent MESSAGES; delivered msgs/s
 *   is receptions over the time from the first send to the last reception;
 * - paced: RATE msgs/s in total for PACED_SECONDS, well below saturation; delivery latency p50/p99.
 * Latency is measured from just before `emit` to the `message:new` at the receiver, in this process.
 *
 * The workers are stopped once the setups are up: every send still runs the whole Redis side of the
 * path (send script, adapter fan-out, BullMQ enqueue on the cluster), but the jobs wait in the queue.
 * On a small machine the embedded FerretDB (SQLite, one writer) would otherwise be the bottleneck and
 * the measure of the database, not of Redis. The script checks at the end that every send was queued.
 *
 * Environment: PAIRS (20), MESSAGES (per sender, 200), WINDOW (8), RATE (300), PACED_SECONDS (8),
 * ROUNDS (4), MONGO_URL (else a FerretDB is started). Not part of `npm test`. Results are printed as a
 * Markdown table and written to .run/bench-redis-cluster/result.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";

import { Queue } from "bullmq";
import { Cluster as RedisCluster, Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { z } from "zod";

import type { ClientToServerEvents, Message, ServerToClientEvents } from "@parley/protocol";

import { startCluster, type Cluster } from "./lib/cluster.js";
import { startFerretDb, withDatabase } from "./lib/ferretdb.js";
import { LOAD_GENERATOR_NGINX_LIMITS } from "./lib/nginx.js";
import { RUN_DIR } from "./lib/paths.js";

const env = z
  .object({
    PAIRS: z.coerce.number().int().min(1).max(500).default(20),
    MESSAGES: z.coerce.number().int().min(1).default(200),
    WINDOW: z.coerce.number().int().min(1).max(100).default(8),
    RATE: z.coerce.number().positive().default(300),
    PACED_SECONDS: z.coerce.number().positive().default(8),
    ROUNDS: z.coerce.number().int().min(1).default(4),
    MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//).optional(),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")));

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type SetupName = "single" | "cluster";

interface Pair {
  sender: ClientSocket;
  receiver: ClientSocket;
  conversationId: string;
}

interface Setup {
  name: SetupName;
  cluster: Cluster;
  pairs: Pair[];
  /** The persistence queue, to check that every send was queued. */
  queue: Queue;
  /** Messages sent so far. */
  sent: number;
  /** One plain connection per Redis server (INFO, CLUSTER INFO). */
  servers: Redis[];
  close(): Promise<void>;
}

interface PhaseResult {
  delivered: number;
  expected: number;
  msgsPerSecond: number;
  p50: number;
  p99: number;
  /** Redis CPU (user + sys, every server of the setup) per 1000 delivered messages, ms. */
  redisCpuMsPer1k: number;
  /** PUBLISH commands run per delivered message (adapter, emitter), every server. */
  publishesPerMessage: number;
  /** Cluster-bus PUBLISH messages received per PUBLISH (every node), cluster only: N - 1 when broadcast. */
  busReceptionsPerPublish?: number;
}

const BASE_DIR = join(RUN_DIR, "bench-redis-cluster");
const JWT_SECRET = "bench-secret-that-is-at-least-32-characters-long";
let sequence = 0;

/** POSTs JSON to the API through nginx; returns the parsed answer, or throws on a non-2xx status. */
async function apiPost<T>(base: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function register(base: string, label: string): Promise<{ id: string; token: string }> {
  const { user, accessToken } = await apiPost<{ user: { id: string }; accessToken: string }>(base, "/api/auth/register", {
    username: `${label}_${Math.random().toString(36).slice(2, 10)}`,
    password: "correct horse battery",
  });
  return { id: user.id, token: accessToken };
}

function connect(url: string, token: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { auth: { token }, transports: ["websocket"], forceNew: true, reconnection: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no session:ready from ${url}`)), 10_000);
    socket.once("session:ready", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function prepare(name: SetupName, mongoUri: string): Promise<Setup> {
  const cluster = await startCluster({
    dir: join(BASE_DIR, name),
    gateways: 2,
    redisCluster: name === "cluster",
    mongoUrl: withDatabase(mongoUri, `bench_${name}_${Date.now()}`),
    jwtSecret: JWT_SECRET,
    logLevel: "warn",
    env: { RATE_LIMITS_ENABLED: "false" },
    nginxLimits: LOAD_GENERATOR_NGINX_LIMITS,
  });
  const [g0, g1] = cluster.gateways;
  const pairs: Pair[] = [];
  for (let i = 0; i < env.PAIRS; i++) {
    const alice = await register(cluster.url, `s${i}`);
    const bob = await register(cluster.url, `r${i}`);
    const { conversation } = await apiPost<{ conversation: { id: string } }>(
      cluster.url,
      "/api/conversations",
      { type: "direct", userId: bob.id },
      alice.token,
    );
    pairs.push({ sender: await connect(g0!.url, alice.token), receiver: await connect(g1!.url, bob.token), conversationId: conversation.id });
  }
  const seeds = cluster.redisClusterNodes?.split(",").map((seed) => ({ host: seed.split(":")[0]!, port: Number(seed.split(":")[1]) }));
  const queueConnection = seeds ? new RedisCluster(seeds) : new Redis(cluster.redisUrl);
  const queue = new Queue("persist", { connection: queueConnection, prefix: "{parley}" });
  const servers = seeds ? seeds.map((seed) => new Redis(seed)) : [new Redis(cluster.redisUrl)];
  await cluster.worker.stop();
  return {
    name,
    cluster,
    pairs,
    queue,
    sent: 0,
    servers,
    async close() {
      for (const pair of pairs) {
        pair.sender.disconnect();
        pair.receiver.disconnect();
      }
      await queue.close();
      queueConnection.disconnect();
      for (const server of servers) server.disconnect();
      await cluster.stop();
    },
  };
}

/** Redis CPU seconds, PUBLISH calls and cluster-bus PUBLISH receptions, summed over the setup's servers. */
async function redisCounters(setup: Setup): Promise<{ cpu: number; publishes: number; busPublishes: number }> {
  let cpu = 0;
  let publishes = 0;
  let busPublishes = 0;
  for (const server of setup.servers) {
    const info = await server.info("all");
    cpu += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
    publishes += Number(/cmdstat_publish:calls=(\d+)/.exec(info)?.[1] ?? 0);
    if (setup.name === "cluster") busPublishes += Number(/cluster_stats_messages_publish_received:(\d+)/.exec(await server.cluster("INFO"))?.[1] ?? 0);
  }
  return { cpu, publishes, busPublishes };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Runs one phase: `drive(send)` sends messages with `send(pair)`; resolves once `expected` messages
 * reached their receivers (or the timeout passed).
 */
async function phase(setup: Setup, expected: number, drive: (send: (pair: Pair) => Promise<void>) => Promise<void>): Promise<PhaseResult> {
  await delay(1000);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let first = Infinity;
  let last = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const onMessage = (message: Message) => {
    const at = performance.now();
    const start = sentAt.get(message.clientMsgId);
    if (start === undefined) return;
    sentAt.delete(message.clientMsgId);
    latencies.push(at - start);
    last = at;
    if (latencies.length === expected) done();
  };
  for (const pair of setup.pairs) pair.receiver.on("message:new", onMessage);
  const before = await redisCounters(setup);
  const send = async (pair: Pair) => {
    const clientMsgId = `b${++sequence}`;
    const now = performance.now();
    first = Math.min(first, now);
    sentAt.set(clientMsgId, now);
    setup.sent++;
    const ack = await pair.sender.timeout(30_000).emitWithAck("message:send", { conversationId: pair.conversationId, clientMsgId, content: "x".repeat(64) });
    if (!ack.ok) throw new Error(`send refused: ${JSON.stringify(ack.error)}`);
  };
  await drive(send);
  await Promise.race([all, delay(60_000)]);
  const after = await redisCounters(setup);
  for (const pair of setup.pairs) pair.receiver.off("message:new", onMessage);
  const sorted = [...latencies].sort((x, y) => x - y);
  const delivered = latencies.length;
  return {
    delivered,
    expected,
    msgsPerSecond: delivered / ((last - first) / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    redisCpuMsPer1k: ((after.cpu - before.cpu) * 1000 * 1000) / Math.max(1, delivered),
    publishesPerMessage: (after.publishes - before.publishes) / Math.max(1, delivered),
    ...(setup.name === "cluster"
      ? { busReceptionsPerPublish: (after.busPublishes - before.busPublishes) / Math.max(1, after.publishes - before.publishes) }
      : {}),
  };
}

/** Every sender keeps WINDOW sends in flight until it has sent MESSAGES. */
function saturation(setup: Setup): Promise<PhaseResult> {
  return phase(setup, setup.pairs.length * env.MESSAGES, async (send) => {
    await Promise.all(
      setup.pairs.map(async (pair) => {
        let left = env.MESSAGES;
        const lane = async () => {
          while (left > 0) {
            left--;
            await send(pair);
          }
        };
        await Promise.all(Array.from({ length: env.WINDOW }, lane));
      }),
    );
  });
}

/** RATE msgs/s in total, round-robin over the senders, for PACED_SECONDS. */
function paced(setup: Setup): Promise<PhaseResult> {
  const total = Math.round(env.RATE * env.PACED_SECONDS);
  return phase(setup, total, async (send) => {
    const pending: Promise<void>[] = [];
    const start = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) * env.RATE) / 1000));
      for (; sent < due; sent++) pending.push(send(setup.pairs[sent % setup.pairs.length]!));
      await delay(5);
    }
    await Promise.all(pending);
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  mkdirSync(BASE_DIR, { recursive: true });
  const ferret = env.MONGO_URL ? undefined : await startFerretDb({ dataDir: join(BASE_DIR, `ferretdb-${Date.now()}`) });
  const mongoUri = env.MONGO_URL ?? ferret!.uri;
  const setups: Setup[] = [];
  try {
    console.log(`Starting both setups (${env.PAIRS} sender/receiver pairs each)…`);
    for (const name of ["single", "cluster"] as const) setups.push(await prepare(name, mongoUri));

    const results: Record<SetupName, { saturation: PhaseResult[]; paced: PhaseResult[] }> = {
      single: { saturation: [], paced: [] },
      cluster: { saturation: [], paced: [] },
    };
    for (let round = 1; round <= env.ROUNDS; round++) {
      // Alternate which setup goes first, so that neither always runs on a warmer (or busier) machine.
      const order = round % 2 ? setups : [...setups].reverse();
      for (const setup of order) {
        const sat = await saturation(setup);
        const pace = await paced(setup);
        results[setup.name].saturation.push(sat);
        results[setup.name].paced.push(pace);
        console.log(
          `round ${round} ${setup.name.padEnd(7)} saturation ${sat.msgsPerSecond.toFixed(0)} msgs/s (${sat.delivered}/${sat.expected}), ` +
            `paced p50 ${pace.p50.toFixed(1)} ms p99 ${pace.p99.toFixed(1)} ms (${pace.delivered}/${pace.expected})`,
        );
      }
    }

    const summary = (name: SetupName) => {
      const { saturation: sat, paced: pace } = results[name];
      return {
        msgsPerSecond: median(sat.map((r) => r.msgsPerSecond)),
        saturationP50: median(sat.map((r) => r.p50)),
        saturationP99: median(sat.map((r) => r.p99)),
        pacedP50: median(pace.map((r) => r.p50)),
        pacedP99: median(pace.map((r) => r.p99)),
        redisCpuMsPer1k: median(sat.map((r) => r.redisCpuMsPer1k)),
        publishesPerMessage: median(sat.map((r) => r.publishesPerMessage)),
        busReceptionsPerPublish: name === "cluster" ? median(sat.map((r) => r.busReceptionsPerPublish ?? 0)) : undefined,
        lost: [...sat, ...pace].reduce((n, r) => n + r.expected - r.delivered, 0),
      };
    };
    const single = summary("single");
    const cluster = summary("cluster");
    const ratio = (c: number, s: number) => `${(c / s).toFixed(2)}×`;
    const rows = [
      ["delivered msgs/s (saturation)", single.msgsPerSecond.toFixed(0), cluster.msgsPerSecond.toFixed(0), ratio(cluster.msgsPerSecond, single.msgsPerSecond)],
      ["latency p50, paced (ms)", single.pacedP50.toFixed(1), cluster.pacedP50.toFixed(1), ratio(cluster.pacedP50, single.pacedP50)],
      ["latency p99, paced (ms)", single.pacedP99.toFixed(1), cluster.pacedP99.toFixed(1), ratio(cluster.pacedP99, single.pacedP99)],
      ["latency p50, saturation (ms)", single.saturationP50.toFixed(1), cluster.saturationP50.toFixed(1), ratio(cluster.saturationP50, single.saturationP50)],
      ["latency p99, saturation (ms)", single.saturationP99.toFixed(1), cluster.saturationP99.toFixed(1), ratio(cluster.saturationP99, single.saturationP99)],
      ["Redis CPU per 1000 msgs (ms, all servers)", single.redisCpuMsPer1k.toFixed(0), cluster.redisCpuMsPer1k.toFixed(0), ratio(cluster.redisCpuMsPer1k, single.redisCpuMsPer1k)],
      ["PUBLISH per delivered msg", single.publishesPerMessage.toFixed(2), cluster.publishesPerMessage.toFixed(2), ""],
      ["cluster-bus copies of each PUBLISH", "–", cluster.busReceptionsPerPublish!.toFixed(2), ""],
      ["messages lost", String(single.lost), String(cluster.lost), ""],
    ];
    for (const setup of setups) {
      const queued = (await setup.queue.getJobCounts("waiting")).waiting ?? 0;
      if (queued !== setup.sent) throw new Error(`${setup.name}: ${setup.sent} messages sent but ${queued} persistence jobs queued`);
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}`;
    const settings = `PAIRS=${env.PAIRS} MESSAGES=${env.MESSAGES} WINDOW=${env.WINDOW} RATE=${env.RATE} PACED_SECONDS=${env.PACED_SECONDS} ROUNDS=${env.ROUNDS}`;
    console.log(`\n${machine}; ${settings}; medians over the rounds\n`);
    console.log("| | single Redis | Redis Cluster (3 masters) | cluster / single |\n| --- | --- | --- | --- |");
    for (const row of rows) console.log(`| ${row.join(" | ")} |`);
    writeFileSync(join(BASE_DIR, "result.json"), JSON.stringify({ machine, settings: env, single, cluster, rounds: results }, null, 2));
  } finally {
    for (const setup of setups) await setup.close().catch((err: unknown) => console.error(err));
    await ferret?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
