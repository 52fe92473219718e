/**
 * Configuration: read from the environment once, at start, and validated as a whole. A bad
 * environment is reported with every problem and its variable name, never one at a time.
 */
import { hostname } from "node:os";

import { z } from "zod";

import { hasHashTag } from "./redis-slots.js";

/** Thrown by {@link loadConfig}; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = this.constructor.name;
  }
}

/** A positive integer read from a string variable. */
export const intVar = (min = 0) => z.coerce.number().int().min(min);

/** A boolean read from `true`/`false`/`1`/`0` (z.coerce.boolean would treat "false" as true). */
export const boolVar = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

/** A Redis node's address, as `REDIS_CLUSTER_NODES` lists them. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

const NODE_ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/;

/** Parses `host:port,host:port` (IPv6 as `[::1]:7000`), adding an issue for each malformed entry. */
function parseRedisNodes(value: string, ctx: z.RefinementCtx): RedisNodeAddress[] {
  const nodes: RedisNodeAddress[] = [];
  for (const entry of value.split(",").map((e) => e.trim())) {
    const match = NODE_ADDRESS.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65_535) {
      ctx.addIssue({ code: "custom", message: `"${entry}" is not host:port` });
      continue;
    }
    nodes.push({ host: (match[1] ?? match[2])!, port });
  }
  return nodes;
}

/** Settings every service shares. */
export const baseConfigShape = {
  /**
   * Redis for the adapter, the emitter, queues and shared state.
   * @default "redis://127.0.0.1:6379"
   */
  REDIS_URL: z.url().default("redis://127.0.0.1:6379"),
  /**
   * Seed nodes of a Redis Cluster, `host:port,host:port` (a few are enough: the others are discovered).
   * When set, parley runs on the cluster and `REDIS_URL` is ignored.
   * @default unset: a single Redis at `REDIS_URL`
   */
  REDIS_CLUSTER_NODES: z.string().transform(parseRedisNodes).optional(),
  /**
   * ACL user of every Redis node. A username in `REDIS_URL` takes precedence.
   * @default unset: the default user
   */
  REDIS_USERNAME: z.string().min(1).optional(),
  /**
   * Password of every Redis node. A password in `REDIS_URL` takes precedence.
   * @default unset: no AUTH
   */
  REDIS_PASSWORD: z.string().min(1).optional(),
  /**
   * Connect to Redis with TLS (a `rediss://` `REDIS_URL` does too).
   * @default false
   */
  REDIS_TLS: boolVar.default(false),
  /**
   * MongoDB connection string, database included.
   * @default "mongodb://127.0.0.1:27017/parley"
   */
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// or mongodb+srv:// URL").default("mongodb://127.0.0.1:27017/parley"),
  /** HMAC secret for HS256 access tokens, at least 32 characters. Required. */
  JWT_SECRET: z.string().min(32, "must be at least 32 characters"),
  /**
   * Prefix of every Redis key parley owns (not the queues').
   * @default "parley"
   */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default("parley"),
  /**
   * BullMQ key prefix. Keep the braces on Redis Cluster: they put a queue's keys in one slot.
   * @default "{parley}"
   */
  QUEUE_PREFIX: z.string().min(1).default("{parley}"),
  /**
   * pino level.
   * @default "info"
   */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * Name of this process in logs, metrics and `session:ready`; must be unique per process.
   * @default "<hostname>-<pid>"
   */
  NODE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).default(`${hostname()}-${process.pid}`),
} as const;

/** The validated settings of {@link baseConfigShape}. */
export type BaseConfig = z.output<z.ZodObject<typeof baseConfigShape>>;

/**
 * Cross-checks of the Redis settings, for each service schema's `superRefine`: on a Redis Cluster,
 * `QUEUE_PREFIX` must carry a hash tag, or every BullMQ script would span slots (CROSSSLOT).
 */
export function checkRedisConfig(config: Partial<Pick<BaseConfig, "REDIS_CLUSTER_NODES" | "QUEUE_PREFIX">>, ctx: z.RefinementCtx): void {
  const prefix = config.QUEUE_PREFIX;
  if (!config.REDIS_CLUSTER_NODES || typeof prefix !== "string" || hasHashTag(prefix)) return;
  ctx.addIssue({
    code: "custom",
    path: ["QUEUE_PREFIX"],
    message: "must contain a hash tag such as {parley} on a Redis Cluster (REDIS_CLUSTER_NODES is set)",
  });
}

/**
 * Parses `env` with `schema`. On failure throws a {@link ConfigError} listing every invalid or missing
 * variable by name; the secret values themselves are never echoed.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // Empty strings mean "unset", so that `FOO= cmd` falls back to the default like an absent FOO.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.map(String).join(".") || "(environment)";
      return issue.code === "invalid_type" && !(name in cleaned) ? `${name}: is required` : `${name}: ${issue.message}`;
    }),
  );
}

/** Settings of the message pipeline, read by every service that sends messages (gateway, API). */
export const pipelineConfigShape = {
  /**
   * How long a clientMsgId is remembered for deduplication, in seconds.
   * @default 86400
   */
  CLIENT_MSG_ID_TTL_SECONDS: intVar(60).default(86_400),
  /**
   * Approximate number of recent messages kept per conversation in Redis for `sync`.
   * @default 1000
   */
  STREAM_MAX_LENGTH: intVar(10).default(1000),
  /**
   * Idle seconds after which a conversation's Redis stream expires (older messages come from MongoDB).
   * @default 604800
   */
  STREAM_TTL_SECONDS: intVar(60).default(604_800),
} as const;

/**
 * {@link loadConfig} for a service's entry point: on a bad environment it prints every problem to
 * stderr and exits with status 1 (before any logger exists).
 */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, service: string): z.output<S> {
  try {
    return loadConfig(schema);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`parley ${service}: ${err.message}\n`);
    process.exit(1);
  }
}

/**
 * An origin as browsers send it in `Origin`: `http(s)://host[:port]`, nothing after the authority but
 * an optional `/`. Parsed values are normalised the way browsers write them (lowercase scheme and
 * host, no default port), so that comparing with a request's `Origin` is a plain string match.
 */
export const originVar = z.string().trim().transform((value, ctx) => {
  const origin = parseOrigin(value);
  if (origin.ok) return origin.origin;
  ctx.addIssue({ code: "custom", message: origin.problem });
  return z.NEVER;
});

/** `scheme://authority` with at most a trailing `/`: the only shape of an origin. */
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\s]+\/?$/i;

/** Parses one `http(s)://host[:port]` origin, or says what is wrong with it. */
function parseOrigin(value: string): { ok: true; origin: string } | { ok: false; problem: string } {
  if (value === "*") return { ok: false, problem: `"*" is not allowed: list the origins` };
  const problem = `"${value}" is not an http(s)://host[:port] origin (no path, query or credentials)`;
  if (!ORIGIN_SHAPE.test(value)) return { ok: false, problem };
  try {
    return { ok: true, origin: new URL(value).origin };
  } catch {
    return { ok: false, problem };
  }
}

/**
 * A comma-separated list of origins (see {@link originVar}), each one checked; `*` is refused, since a
 * list of allowed origins is the point. Duplicates are dropped.
 */
export const originListVar = z.string().transform((value, ctx) => {
  const origins = new Set<string>();
  const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one origin" });
  for (const entry of entries) {
    const origin = parseOrigin(entry);
    if (origin.ok) origins.add(origin.origin);
    else ctx.addIssue({ code: "custom", message: origin.problem });
  }
  return [...origins];
});

/** The public address of the deployment, read by the services that answer browsers (gateway, API). */
export const publicUrlConfigShape = {
  /**
   * The public origin clients use (nginx, or the load balancer in front of it), `http(s)://host[:port]`.
   * The default of the allowed origins: `CORS_ORIGINS` (API) and `ALLOWED_ORIGINS` (gateway).
   * @default "http://localhost:8080"
   */
  PUBLIC_URL: originVar.default("http://localhost:8080"),
} as const;

/** The origins a list setting allows: its own list when set, otherwise the one public origin. */
export function allowedOrigins(list: readonly string[] | undefined, publicUrl: string): ReadonlySet<string> {
  return new Set(list ?? [publicUrl]);
}
