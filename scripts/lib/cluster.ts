/**
 * A whole parley cluster on this machine, from real processes: Redis, MongoDB (FerretDB unless a URL
 * is given), N gateways, the API, the worker and nginx in front. `npm start` runs one; integration
 * tests start their own, each on free ports with its own Redis and database.
 */
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";

import { startFerretDb, withDatabase, type FerretDb } from "./ferretdb.js";
import { startNginx, type LocalNginxOptions } from "./nginx.js";
import { startObjectStore, type ObjectStore } from "./object-store.js";
import { SERVICE_ENTRY } from "./paths.js";
import { freePort } from "./ports.js";
import { ManagedProcess, isOk } from "./process.js";
import { startRedisCluster } from "./redis-cluster.js";
import { startRedisServer, type RedisServer } from "./redis-server.js";

export type ServiceKind = keyof typeof SERVICE_ENTRY;

export interface ClusterOptions {
  /** Directory for logs and generated configs. */
  dir: string;
  /** Directory for the data of a Redis and a FerretDB started here. @default `dir` */
  dataDir?: string;
  /** @default 2 */
  gateways?: number;
  /** nginx port. @default a free port */
  port?: number;
  /** Use this Redis instead of starting a private redis-server. */
  redisUrl?: string;
  /** Extra redis-server arguments when starting a private one (e.g. AOF), or each node of a private cluster. */
  redisArgs?: readonly string[];
  /**
   * Run the services on a Redis Cluster (`REDIS_CLUSTER_NODES`) instead of a single Redis: `true` starts
   * a private three-master cluster, a string names the seed nodes of an existing one (`host:port,…`).
   * Takes precedence over `redisUrl`.
   * @default false
   */
  redisCluster?: boolean | string;
  /** MongoDB URL with its database; when absent a FerretDB is started with data under `dir`. */
  mongoUrl?: string;
  /** Database name for the FerretDB started here. @default "parley" */
  database?: string;
  /** Serve the FerretDB started here's Go profiles on this `host:port` (`npm run bench -- --profile`). */
  ferretDbDebugAddr?: string | undefined;
  jwtSecret: string;
  /** @default "info" */
  logLevel?: string;
  /** Extra environment for every service (e.g. batch sizes), and per kind. */
  env?: Record<string, string>;
  envFor?: Partial<Record<ServiceKind, Record<string, string>>>;
  /**
   * Node.js arguments that start a kind of service instead of its built `dist/index.js`: flags and an
   * entry point (benchmarks run bench-only gateways with `["--import", "tsx", "scripts/bench/gateway.ts"]`,
   * or profile with `["--cpu-prof", …, entry]`).
   * @default `["--enable-source-maps", <dist/index.js of the kind>]`
   */
  nodeArgsFor?: Partial<Record<ServiceKind, readonly string[]>>;
  /**
   * nginx worker processes instead of the production config's `auto` (one per core). Each worker holds
   * two descriptors per WebSocket, within the process's open-file limit.
   * @default "auto"
   */
  nginxWorkers?: number;
  /**
   * nginx's per-address limits (see {@link LocalNginxOptions.limits}): some replaced, or `"off"`. Every
   * local client connects from 127.0.0.1, so a load generator raises them.
   * @default nginx.conf's production values
   */
  nginxLimits?: LocalNginxOptions["limits"];
  /**
   * Load balancers in front of nginx (see {@link LocalNginxOptions.trustedProxies}): tests that act as
   * clients of many addresses send `X-Forwarded-For` from 127.0.0.1 as such a balancer would.
   * @default none
   */
  nginxTrustedProxies?: LocalNginxOptions["trustedProxies"];
  /**
   * Restart the gateways, the API and the worker whenever one exits without being asked to (a crash,
   * an OOM kill), after a backoff (see {@link Service.supervise}), telling `supervise` what happened.
   * `npm start` does; tests that kill a service to see the others cope leave it off.
   * @default off
   */
  supervise?: ((event: SupervisionEvent) => void) | undefined;
  /**
   * Start a local object store (versitygw, data under `dataDir`) for attachments and point the
   * services at it; false leaves the `S3_*` settings to `env` (attachments are off without them).
   * @default true
   */
  objectStore?: boolean;
}

/** The bucket of a local object store. */
export const LOCAL_BUCKET = "parley-attachments";

/** What a supervised service went through (see {@link Service.supervise}). */
export type SupervisionEvent =
  | { type: "exited"; service: string; code: number | null; signal: NodeJS.Signals | null; restartInMs: number }
  | { type: "restarted"; service: string; pid: number | undefined }
  | { type: "restart-failed"; service: string; error: string; restartInMs: number };

/** When a supervised service is started again after it exited by itself. */
export interface RestartPolicy {
  /** The first wait; each restart that follows without a quiet period waits twice the one before. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Up this long, a service counts as healthy again: its next crash waits `initialDelayMs`. */
  resetAfterMs: number;
}

/** 1 s, 2 s, 4 s… up to 30 s between restarts of a service that keeps crashing; reset after a minute up. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/** One service process of the cluster, which can be stopped, killed and started again on its port. */
export class Service {
  process: ManagedProcess | undefined;
  private supervision: { report: (event: SupervisionEvent) => void; policy: RestartPolicy; failures: number; timer?: NodeJS.Timeout; restarting?: Promise<void> } | undefined;
  /** Set by stop() and kill(): the exit that follows was asked for. */
  private stopping = false;

  constructor(
    readonly kind: ServiceKind,
    readonly name: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    /** Sticky-routing tag of a gateway. */
    readonly route?: string,
    /** Node.js arguments (flags and entry point). */
    private readonly nodeArgs: readonly string[] = ["--enable-source-maps", SERVICE_ENTRY[kind]],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Port of the process's internal metrics endpoint (`METRICS_PORT`). */
  get metricsPort(): number {
    return Number(this.env.METRICS_PORT);
  }

  /** The process's Prometheus endpoint, `http://127.0.0.1:<METRICS_PORT>/metrics`. */
  get metricsUrl(): string {
    return `http://127.0.0.1:${this.metricsPort}/metrics`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /**
   * Another process of this kind, with this one's environment and `env` over it, on ports of its own
   * and logging to `<name>.log` beside this one's; not started, not supervised (a second worker to take
   * over a queue, a gateway with other settings).
   */
  async sibling(name: string, env: Record<string, string> = {}): Promise<Service> {
    const port = await freePort();
    const metricsPort = await freePort();
    const siblingEnv = { ...this.env, ...env, PORT: String(port), METRICS_PORT: String(metricsPort) };
    return new Service(this.kind, name, port, siblingEnv, join(dirname(this.logFile), `${name}.log`), this.route, this.nodeArgs);
  }

  /** Starts the process and waits until its /readyz answers 200. */
  async start(): Promise<void> {
    if (this.running) return;
    this.stopping = false;
    const child = new ManagedProcess({
      name: this.name,
      command: process.execPath,
      args: this.nodeArgs,
      env: this.env,
      logFile: this.logFile,
    });
    this.process = child;
    // Only an exit after it was ready is supervision's: a start that fails says so to its caller.
    let readyAt: number | undefined;
    void child.exited.then((exit) => readyAt !== undefined && this.exitedBySelf(child, exit, Date.now() - readyAt));
    await child.waitUntil(() => isOk(`${this.url}/readyz`), 30_000);
    readyAt = Date.now();
  }

  /**
   * From now on, starts the process again whenever it exits without stop() or kill() asking, as a
   * process manager would: after `policy.initialDelayMs`, doubling while it keeps crashing, up to
   * `policy.maxDelayMs`. Each exit and restart goes to `report`.
   */
  supervise(report: (event: SupervisionEvent) => void, policy: RestartPolicy = DEFAULT_RESTART_POLICY): void {
    this.supervision = { report, policy, failures: 0 };
  }

  private exitedBySelf(child: ManagedProcess, exit: { code: number | null; signal: NodeJS.Signals | null }, upMs: number): void {
    const supervision = this.supervision;
    if (!supervision || this.stopping || this.process !== child) return;
    if (upMs >= supervision.policy.resetAfterMs) supervision.failures = 0;
    const restartInMs = this.nextDelay(supervision);
    supervision.report({ type: "exited", service: this.name, code: exit.code, signal: exit.signal, restartInMs });
    this.scheduleRestart(supervision, restartInMs);
  }

  private nextDelay(supervision: NonNullable<Service["supervision"]>): number {
    const { initialDelayMs, maxDelayMs } = supervision.policy;
    return Math.min(maxDelayMs, initialDelayMs * 2 ** supervision.failures++);
  }

  private scheduleRestart(supervision: NonNullable<Service["supervision"]>, delayMs: number): void {
    supervision.timer = setTimeout(() => {
      supervision.timer = undefined;
      if (this.stopping) return;
      supervision.restarting = this.start().then(
        () => supervision.report({ type: "restarted", service: this.name, pid: this.process?.pid }),
        async (err: unknown) => {
          // It exited before it was ready, or never got ready: gone for good, then again later.
          await this.process?.kill();
          if (this.stopping) return;
          const restartInMs = this.nextDelay(supervision);
          supervision.report({ type: "restart-failed", service: this.name, error: err instanceof Error ? err.message.split("\n")[0]! : String(err), restartInMs });
          this.scheduleRestart(supervision, restartInMs);
        },
      );
    }, delayMs);
  }

  /** Ends supervision's pending restart, if any, before the process is stopped. */
  private async settle(): Promise<void> {
    this.stopping = true;
    const supervision = this.supervision;
    if (!supervision) return;
    clearTimeout(supervision.timer);
    await supervision.restarting?.catch(() => {});
  }

  /** SIGTERM: a graceful shutdown. */
  async stop(): Promise<void> {
    await this.settle();
    await this.process?.stop("SIGTERM", 20_000);
  }

  /** SIGKILL: a crash (not restarted by supervision: it was asked for). */
  async kill(): Promise<void> {
    await this.settle();
    await this.process?.kill();
  }
}

/** The environment every service of a cluster shares: where Redis and MongoDB are, the secret, logs. */
export function serviceEnv(options: {
  redisUrl: string;
  redisClusterNodes?: string | undefined;
  mongoUrl: string;
  jwtSecret: string;
  logLevel?: string | undefined;
  env?: Record<string, string> | undefined;
}): Record<string, string> {
  return {
    NODE_ENV: "production",
    REDIS_URL: options.redisUrl,
    ...(options.redisClusterNodes ? { REDIS_CLUSTER_NODES: options.redisClusterNodes } : {}),
    MONGO_URL: options.mongoUrl,
    JWT_SECRET: options.jwtSecret,
    LOG_LEVEL: options.logLevel ?? "info",
    ...options.env,
  };
}

/**
 * A service on free ports (its own and its metrics'), listening on 127.0.0.1, logging to
 * `<dir>/logs/<name>.log`; not started yet.
 */
export async function createService(options: {
  kind: ServiceKind;
  name: string;
  dir: string;
  /** The shared environment ({@link serviceEnv}) and the kind's own. */
  env: Record<string, string>;
  /** Sticky-routing tag of a gateway. */
  route?: string | undefined;
  /** See {@link ClusterOptions.nodeArgsFor}. */
  nodeArgs?: readonly string[] | undefined;
}): Promise<Service> {
  const port = await freePort();
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: "127.0.0.1",
  };
  if (options.route) env.ROUTE_ID = options.route;
  return new Service(options.kind, options.name, port, env, join(options.dir, "logs", `${options.name}.log`), options.route, options.nodeArgs);
}

export interface Cluster {
  /** nginx, the one public origin: `/api/*` and `/socket.io/*`. */
  url: string;
  port: number;
  /** The single Redis; on a Redis Cluster, the URL of one of its nodes (the services do not use it). */
  redisUrl: string;
  /** Seed nodes (`host:port,…`) when the services run on a Redis Cluster. */
  redisClusterNodes?: string;
  mongoUrl: string;
  /** The local object store, unless `objectStore: false`. */
  objectStore?: ObjectStore;
  gateways: Service[];
  api: Service;
  worker: Service;
  nginx: ManagedProcess;
  /** Stops everything this cluster started, in reverse order. */
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { dir } = options;
  const dataDir = options.dataDir ?? dir;
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const item of started.reverse()) await item.stop().catch(() => {});
    started.length = 0;
  };

  try {
    let redisUrl = options.redisUrl;
    let redisClusterNodes = typeof options.redisCluster === "string" ? options.redisCluster : undefined;
    if (options.redisCluster === true) {
      const redisCluster = await startRedisCluster({ dir: join(dataDir, "redis-cluster"), args: options.redisArgs ?? [] });
      started.push(redisCluster);
      redisClusterNodes = redisCluster.seeds;
      redisUrl = redisCluster.nodes[0]!.url;
    } else if (redisClusterNodes) {
      redisUrl ??= `redis://${redisClusterNodes.split(",")[0]}`;
    }
    if (!redisUrl) {
      const redis: RedisServer = await startRedisServer({ dir: join(dataDir, "redis"), args: options.redisArgs ?? [] });
      started.push(redis);
      redisUrl = redis.url;
    }
    let mongoUrl = options.mongoUrl;
    if (!mongoUrl) {
      const ferret: FerretDb = await startFerretDb({ dataDir: join(dataDir, "ferretdb"), debugAddr: options.ferretDbDebugAddr });
      started.push(ferret);
      mongoUrl = withDatabase(ferret.uri, options.database ?? "parley");
    }

    const port = options.port ?? (await freePort());
    const publicUrl = options.env?.PUBLIC_URL ?? `http://localhost:${port}`;
    let objectStore: ObjectStore | undefined;
    if (options.objectStore ?? true) {
      objectStore = await startObjectStore({
        dir: join(dataDir, "s3"),
        bucket: LOCAL_BUCKET,
        // Fresh at every start: the objects do not depend on the credentials.
        accessKey: `parley${randomBytes(6).toString("hex")}`,
        secretKey: randomBytes(24).toString("base64url"),
        corsOrigins: [new URL(publicUrl).origin, `http://127.0.0.1:${port}`],
      });
      started.push(objectStore);
    }
    // The origin the cluster is reached at, unless the caller says otherwise.
    const common = {
      PUBLIC_URL: publicUrl,
      ...(objectStore ? objectStoreEnv(objectStore) : {}),
      ...serviceEnv({ ...options, redisUrl, redisClusterNodes, mongoUrl }),
    };
    const service = (kind: ServiceKind, name: string, route?: string) =>
      createService({ kind, name, route, dir, env: { ...common, ...options.envFor?.[kind] }, nodeArgs: options.nodeArgsFor?.[kind] });

    const api = await service("api", "api");
    const worker = await service("worker", "worker");
    const gateways: Service[] = [];
    for (let i = 0; i < (options.gateways ?? 2); i++) gateways.push(await service("gateway", `gateway-${i}`, `g${i}`));
    const services = [api, worker, ...gateways];
    started.push(...services.map((s) => ({ stop: () => s.stop() })));
    await Promise.all(services.map((s) => s.start()));
    if (options.supervise) for (const s of services) s.supervise(options.supervise);

    const nginx = await startNginx(
      { gateways: gateways.map((g) => ({ route: g.route!, port: g.port })), apiPort: api.port },
      port,
      join(dir, "nginx"),
      {
        workers: options.nginxWorkers,
        limits: options.nginxLimits,
        trustedProxies: options.nginxTrustedProxies,
        objectStoreOrigins: objectStorePublicOrigins({ ...process.env, ...common }),
      },
    );
    started.push({ stop: () => nginx.stop("SIGQUIT", 5_000) });

    const url = `http://127.0.0.1:${port}`;
    await nginx.waitUntil(() => isOk(`${url}/readyz`), 30_000, "ready through nginx");
    return {
      url,
      port,
      redisUrl,
      ...(redisClusterNodes ? { redisClusterNodes } : {}),
      mongoUrl,
      ...(objectStore ? { objectStore } : {}),
      gateways,
      api,
      worker,
      nginx,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The origin that presigned URLs name, for the web app's Content-Security-Policy (browsers show and
 * upload attachments straight from and to the store): `S3_PUBLIC_ENDPOINT`'s, else `S3_ENDPOINT`'s;
 * undefined (nginx.conf's value stays) for AWS S3's default endpoints.
 */
export function objectStorePublicOrigins(env: NodeJS.ProcessEnv): string[] | undefined {
  const endpoint = env.S3_PUBLIC_ENDPOINT || env.S3_ENDPOINT;
  return endpoint ? [new URL(endpoint).origin] : undefined;
}

/** The `S3_*` settings that point the services at `store`. */
export function objectStoreEnv(store: ObjectStore): Record<string, string> {
  return {
    S3_ENDPOINT: store.endpoint,
    S3_BUCKET: store.bucket,
    S3_REGION: store.region,
    S3_ACCESS_KEY_ID: store.accessKeyId,
    S3_SECRET_ACCESS_KEY: store.secretAccessKey,
    S3_FORCE_PATH_STYLE: "true",
  };
}
