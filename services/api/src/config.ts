/** The API's configuration: the shared settings, the message pipeline's, and the HTTP server's own. */
import { isIP } from "node:net";

import { z } from "zod";

import { baseConfigShape, checkRedisConfig, intVar, loadConfig, originListVar, pipelineConfigShape, publicUrlConfigShape } from "@parley/shared/config";
import { metricsConfigShape } from "@parley/shared/metrics";
import { rateLimitConfigShape } from "@parley/shared/rate-limit";

/** Names Express (proxy-addr) understands in `trust proxy`, besides addresses and CIDR ranges. */
const PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/**
 * Express's `trust proxy` value: `true`/`false`, a hop count, or a comma-separated list of addresses,
 * CIDR ranges and the names loopback, linklocal and uniquelocal.
 */
const TrustProxy = z
  .string()
  .trim()
  .refine(
    (v) =>
      /^(true|false|\d+)$/.test(v) ||
      v.split(",").every((part) => {
        const entry = part.trim();
        const [address, bits, ...rest] = entry.split("/");
        return PROXY_NAMES.has(entry) || (rest.length === 0 && isIP(address ?? "") !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits)));
      }),
    "must be true, false, a hop count, or a comma-separated list of addresses, CIDR ranges, loopback, linklocal or uniquelocal",
  )
  .transform((v): boolean | number | string => (v === "true" ? true : v === "false" ? false : /^\d+$/.test(v) ? Number(v) : v));

/** Settings of the API process only. */
export const apiConfigShape = {
  /**
   * TCP port of the HTTP server; 0 picks a free one.
   * @default 4000
   */
  PORT: intVar(0).max(65_535).default(4000),
  /**
   * Address the HTTP server listens on.
   * @default "0.0.0.0"
   */
  HOST: z.string().min(1).default("0.0.0.0"),
  /**
   * Lifetime of the access tokens issued at register and login, in seconds.
   * @default 604800
   */
  JWT_TTL_SECONDS: intVar(60).default(604_800),
  /**
   * Which proxies to believe about the client address (`X-Forwarded-For`), passed to Express's
   * `trust proxy`: nginx runs on the same host by default.
   * @default "loopback"
   */
  TRUST_PROXY: TrustProxy.default("loopback"),
  /**
   * Origins whose web pages may call the API from the browser (CORS): a comma-separated list of
   * `http(s)://host[:port]` origins; `*` is refused. A request from any other origin gets no CORS
   * headers, so the browser does not hand it the answer; requests without `Origin` are unaffected.
   * @default the origin of `PUBLIC_URL`
   */
  CORS_ORIGINS: originListVar.optional(),
  /**
   * Largest JSON request body, in bytes; a larger one is refused with 413.
   * @default 65536
   */
  BODY_LIMIT_BYTES: intVar(1024).default(65_536),
  /**
   * Hard limit for a graceful shutdown (draining requests, closing connections), in milliseconds.
   * @default 10000
   */
  SHUTDOWN_TIMEOUT_MS: intVar(100).default(10_000),
} as const;

/** The API's whole environment. */
export const apiConfigSchema = z
  .object({ ...baseConfigShape, ...pipelineConfigShape, ...rateLimitConfigShape, ...metricsConfigShape, ...publicUrlConfigShape, ...apiConfigShape })
  .superRefine(checkRedisConfig, { when: () => true });

/** The API's validated configuration. */
export type ApiConfig = z.output<typeof apiConfigSchema>;

/**
 * Reads the API's configuration from `env`.
 * @throws {ConfigError} naming every missing or invalid variable.
 */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig(apiConfigSchema, env);
}
