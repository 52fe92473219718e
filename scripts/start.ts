/**
 * `npm start`: builds the web app when its sources changed, then runs the local cluster until Ctrl-C.
 *
 * Environment: PORT (nginx, default 8080), GATEWAYS (default 2), REDIS_URL (else a private
 * redis-server with AOF under .data/redis), REDIS_CLUSTER=1 (a private three-master Redis Cluster
 * instead, empty at every start) or REDIS_CLUSTER_NODES (an existing cluster's seed nodes), MONGO_URL
 * (else the embedded FerretDB under .data/ferretdb),
 * JWT_SECRET (else one generated once and kept in .data/jwt-secret), LOG_LEVEL (default info),
 * NGINX_LIMITS: nginx's per-address limits, `production` (default: nginx.conf's values), `load` (raised
 * out of the way of a load generator on this machine: `npm run load` opens everything from 127.0.0.1)
 * or `off`.
 *
 * The gateways, the API and the worker are supervised: one that dies is started again after a backoff
 * (1 s, doubling up to 30 s while it keeps dying), with a line on the console for each exit and restart.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { z } from "zod";

import { startCluster, type Cluster, type SupervisionEvent } from "./lib/cluster.js";
import { LOAD_GENERATOR_NGINX_LIMITS, type LocalNginxOptions } from "./lib/nginx.js";
import { DATA_DIR, RUN_DIR } from "./lib/paths.js";
import { ensureWebBuild } from "./lib/web.js";

const env = z
  .object({
    PORT: z.coerce.number().int().min(1).max(65535).default(8080),
    GATEWAYS: z.coerce.number().int().min(1).max(32).default(2),
    REDIS_URL: z.url().optional(),
    REDIS_CLUSTER: z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true").default(false),
    REDIS_CLUSTER_NODES: z.string().regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, "must be host:port,host:port").optional(),
    MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//).optional(),
    JWT_SECRET: z.string().min(32).optional(),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    NGINX_LIMITS: z.enum(["production", "load", "off"]).default("production"),
    // With a bucket (and the other S3_* settings, which the services read), no local store is started.
    S3_BUCKET: z.string().min(1).optional(),
  })
  .safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")));
if (!env.success) {
  console.error(`Invalid environment:\n${env.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`).join("\n")}`);
  process.exit(1);
}
const { PORT, GATEWAYS, REDIS_URL, REDIS_CLUSTER, REDIS_CLUSTER_NODES, MONGO_URL, JWT_SECRET, LOG_LEVEL, NGINX_LIMITS, S3_BUCKET } = env.data;
const NGINX_LIMIT_CHOICES: Record<typeof NGINX_LIMITS, LocalNginxOptions["limits"]> = {
  production: undefined,
  load: LOAD_GENERATOR_NGINX_LIMITS,
  off: "off",
};

/** A secret generated on first start and kept, so tokens stay valid across restarts of the local cluster. */
function localJwtSecret(): string {
  const file = join(DATA_DIR, "jwt-secret");
  if (!existsSync(file)) {
    mkdirSync(DATA_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}

/** A supervised service's exit or restart, as a line on the console with the time. */
function reportSupervision(event: SupervisionEvent): void {
  const at = new Date().toISOString().slice(11, 19);
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  if (event.type === "exited") {
    const how = event.signal ? `signal ${event.signal}` : `code ${event.code}`;
    console.error(`[${at}] ${event.service} exited (${how}); restarting it in ${seconds(event.restartInMs)} (its log: ${join(runDir, "logs", `${event.service}.log`)})`);
  } else if (event.type === "restart-failed") {
    console.error(`[${at}] ${event.service} did not start again: ${event.error}; next try in ${seconds(event.restartInMs)}`);
  } else {
    console.log(`[${at}] ${event.service} is back (pid ${event.pid})`);
  }
}

const runDir = join(RUN_DIR, "local");
try {
  ensureWebBuild((message) => console.log(`Building: ${message}…`));
} catch (err) {
  console.error(`parley failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
console.log(`Starting parley: nginx on :${PORT}, ${GATEWAYS} gateway(s), api, worker…`);
let cluster: Cluster;
try {
  cluster = await startCluster({
    dir: runDir,
    port: PORT,
    gateways: GATEWAYS,
    ...(REDIS_CLUSTER_NODES || REDIS_CLUSTER
      ? { redisCluster: REDIS_CLUSTER_NODES ?? true }
      : REDIS_URL
        ? { redisUrl: REDIS_URL }
        : { redisArgs: ["--appendonly", "yes"] }),
    dataDir: DATA_DIR,
    ...(MONGO_URL ? { mongoUrl: MONGO_URL } : {}),
    jwtSecret: JWT_SECRET ?? localJwtSecret(),
    logLevel: LOG_LEVEL,
    nginxLimits: NGINX_LIMIT_CHOICES[NGINX_LIMITS],
    // With S3_BUCKET (and the other S3_* settings) in the environment, the services use that store.
    objectStore: !S3_BUCKET,
    // As compose's restart policy and Kubernetes do: a service that dies is started again.
    supervise: reportSupervision,
  });
} catch (err) {
  console.error(`parley failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

const rows: [string, string][] = [
  ["public origin", `http://localhost:${cluster.port}  (the web app at /, /api/*, /socket.io/*, /readyz)`],
  ["nginx limits", `${NGINX_LIMITS} per client address (NGINX_LIMITS=production|load|off)`],
  ...cluster.gateways.map((g): [string, string] => [
    g.name,
    `${g.url}  pid ${g.process?.pid}  route ${g.route}  metrics ${g.metricsUrl}`,
  ]),
  ["api", `${cluster.api.url}  pid ${cluster.api.process?.pid}  metrics ${cluster.api.metricsUrl}`],
  ["worker", `${cluster.worker.url}  pid ${cluster.worker.process?.pid}  metrics ${cluster.worker.metricsUrl}`],
  ["redis", cluster.redisClusterNodes ? `cluster ${cluster.redisClusterNodes}` : cluster.redisUrl],
  ["mongodb", cluster.mongoUrl],
  ["object store", cluster.objectStore ? `${cluster.objectStore.endpoint}  bucket ${cluster.objectStore.bucket}` : `S3_BUCKET ${S3_BUCKET}`],
  ["logs", join(runDir, "logs")],
];
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`\nparley is up:\n${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join("\n")}\n\nCtrl-C stops everything.`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping parley…");
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
