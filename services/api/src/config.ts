/** The API's configuration: the shared settings, the message pipeline's, the ICE servers of calls, and the HTTP server's own. */
import { isIP } from "node:net";

import { z } from "zod";

import { baseConfigShape, checkRedisConfig, intVar, loadConfig, originListVar, pipelineConfigShape, publicUrlConfigShape } from "@parley/shared/config";
import { attachmentConfigShape } from "@parley/shared/attachments/attachment-rules";
import { checkStorageConfig, storageConfigShape } from "@parley/shared/attachments/storage";
import { metricsConfigShape } from "@parley/shared/metrics";
import { rateLimitConfigShape } from "@parley/shared/rate-limit";

import { checkIceConfig, iceConfigShape } from "./calls/ice-servers.js";

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
   * Lifetime of access tokens, in seconds. Sockets are disconnected when theirs expires, unless the
   * client sends a newer one with `auth:refresh`.
   * @default 900
   */
  ACCESS_TOKEN_TTL_SECONDS: intVar(5).max(86_400).default(900),
  /**
   * Lifetime of a refresh token, in seconds; every refresh issues a new one with this lifetime, so a
   * session lasts as long as it is used at least this often.
   * @default 2592000
   */
  REFRESH_TOKEN_TTL_SECONDS: intVar(60).default(2_592_000),
  /**
   * How long after a refresh the refresh token it replaced still answers (with the same new tokens),
   * so that two tabs refreshing at once are not taken for a stolen token, in seconds.
   * @default 10
   */
  REFRESH_TOKEN_REUSE_GRACE_SECONDS: intVar(0).max(300).default(10),
  /**
   * Active sessions (logged-in devices) per user; a login beyond revokes the least recently used.
   * @default 50
   */
  MAX_SESSIONS_PER_USER: intVar(1).default(50),
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
   * Password hashes (scrypt, 32 MiB and ~50–100 ms of one core each) running at once in this process,
   * for registrations and logins alike. At most the cores the process may use.
   * @default 2
   */
  PASSWORD_HASH_CONCURRENCY: intVar(1).max(64).default(2),
  /**
   * Password hashes waiting for a slot; beyond that a request is refused at once with 503 `UNAVAILABLE`.
   * @default 16
   */
  PASSWORD_HASH_QUEUE: intVar(0).max(10_000).default(16),
  /**
   * Longest wait of a password hash for a slot, in milliseconds; a request still waiting then is
   * refused with 503 `UNAVAILABLE`.
   * @default 3000
   */
  PASSWORD_HASH_MAX_WAIT_MS: intVar(1).max(60_000).default(3000),
  /**
   * Hard limit for a graceful shutdown (draining requests, closing connections), in milliseconds.
   * @default 10000
   */
  SHUTDOWN_TIMEOUT_MS: intVar(100).default(10_000),
} as const;

/** The API's whole environment. */
export const apiConfigSchema = z
  .object({
    ...baseConfigShape,
    ...pipelineConfigShape,
    ...rateLimitConfigShape,
    ...metricsConfigShape,
    ...publicUrlConfigShape,
    ...storageConfigShape,
    ...attachmentConfigShape,
    ...iceConfigShape,
    ...apiConfigShape,
  })
  .superRefine(checkRedisConfig, { when: () => true })
  .superRefine(checkIceConfig, { when: () => true })
  .superRefine(checkStorageConfig, { when: () => true });

/** The API's validated configuration. */
export type ApiConfig = z.output<typeof apiConfigSchema>;

/**
 * Reads the API's configuration from `env`.
 * @throws {ConfigError} naming every missing or invalid variable.
 */
export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig(apiConfigSchema, env);
}
