/** Gateway settings, from the environment. */
import { z } from "zod";

import { baseConfigShape, checkRedisConfig, intVar, originListVar, pipelineConfigShape, publicUrlConfigShape } from "@parley/shared/config";
import { attachmentConfigShape } from "@parley/shared/attachments/attachment-rules";
import { checkStorageConfig, storageConfigShape } from "@parley/shared/attachments/storage";
import { metricsConfigShape } from "@parley/shared/metrics";
import { rateLimitConfigShape } from "@parley/shared/rate-limit";

import { callsConfigShape } from "./calls/calls.config.js";
import { presenceConfigShape } from "./presence/presence.config.js";
import { typingConfigShape } from "./typing/typing.config.js";

export const gatewayConfigSchema = z.object({
  ...baseConfigShape,
  ...pipelineConfigShape,
  ...presenceConfigShape,
  ...typingConfigShape,
  ...callsConfigShape,
  ...rateLimitConfigShape,
  ...metricsConfigShape,
  ...publicUrlConfigShape,
  ...storageConfigShape,
  ...attachmentConfigShape,
  /**
   * Port of the Socket.IO server (and of /healthz and /readyz); 0 picks a free one.
   * @default 3000
   */
  PORT: intVar(0).max(65535).default(3000),
  /**
   * Interface to listen on.
   * @default "0.0.0.0"
   */
  HOST: z.string().min(1).default("0.0.0.0"),
  /**
   * Most sockets one user may have connected across the whole cluster; a handshake beyond is refused
   * with `connect_error` code `TOO_MANY_CONNECTIONS`. 0: no limit.
   * @default 20
   */
  MAX_SOCKETS_PER_USER: intVar(0).default(20),
  /**
   * How long before its access token expires a socket is sent `session:expiring`, in seconds (at once
   * when the token is closer to its expiry than that).
   * @default 60
   */
  SESSION_EXPIRY_WARNING_SECONDS: intVar(0).default(60),
  /**
   * Sticky-routing tag put in front of every Engine.IO session id (`<ROUTE_ID>.<id>`), so that a
   * proxy can send each long-polling request back to the node that owns the session by looking at
   * `?sid=` alone. Unset: plain session ids (use cookie or IP affinity instead).
   */
  ROUTE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1 to 32 of [A-Za-z0-9_-]").optional(),
  /**
   * Largest Socket.IO message accepted, in bytes; a larger one closes the connection before it is buffered.
   * @default 65536
   */
  MAX_PAYLOAD_BYTES: intVar(1024).default(65_536),
  /**
   * Origins whose web pages may open a socket: a comma-separated list of `http(s)://host[:port]`
   * origins; `*` is refused. A WebSocket or long-polling request that carries an `Origin` header not in
   * the list is refused with 403 (cross-site WebSocket hijacking); one without `Origin` (native apps,
   * servers) is accepted. Long-polling from these origins works cross-origin (CORS, with credentials
   * for the proxy's affinity cookie).
   * @default the origin of `PUBLIC_URL`
   */
  ALLOWED_ORIGINS: originListVar.optional(),
  /**
   * How long a new Engine.IO connection may take to complete the Socket.IO connect (`40` with a valid
   * token), in milliseconds; then it is closed. Bounds what a client holds without ever authenticating.
   * The handshake's own lookups (MongoDB, Redis) get half of it: past that, the handshake is refused
   * with `UNAVAILABLE`, so that the client hears why before the connection is closed.
   * @default 5000
   */
  CONNECT_TIMEOUT_MS: intVar(100).default(5_000),
  /**
   * Engine.IO heartbeat interval, in milliseconds.
   * @default 25000
   */
  PING_INTERVAL_MS: intVar(1000).default(25_000),
  /**
   * How long to wait for a heartbeat answer before closing, in milliseconds.
   * @default 20000
   */
  PING_TIMEOUT_MS: intVar(1000).default(20_000),
  /**
   * Longest time a draining gateway takes to close its sockets (5 ms per socket below that), so that
   * their reconnections reach the other gateways spread out. Keep it well under SHUTDOWN_TIMEOUT_MS.
   * @default 5000
   */
  DRAIN_SPREAD_MS: intVar(0).default(5_000),
  /**
   * Hard limit for a graceful shutdown (drain, close), in milliseconds.
   * @default 15000
   */
  SHUTDOWN_TIMEOUT_MS: intVar(1000).default(15_000),
})
  .superRefine(checkRedisConfig, { when: () => true })
  .superRefine(checkStorageConfig, { when: () => true });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
