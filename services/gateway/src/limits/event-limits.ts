/**
 * Rate limits of client events: which bucket each event takes from, and the limiter a gateway enforces.
 * The gateway's `onEvent` checks the limit of every event before validating its payload or running its
 * handler, so no feature can forget it.
 */
import type { ClientToServerEvents } from "@parley/protocol";
import type { Logger } from "@parley/shared/logger";
import { RateLimiter, rateLimitsFromConfig, type RateAction, type RateLimitConfig } from "@parley/shared/rate-limit";
import type { RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";


/**
 * The bucket of every client event. Exhaustive: a new event in the protocol does not compile until it
 * is given one here.
 */
export const EVENT_ACTIONS = {
  "message:send": "message",
  "message:edit": "message",
  "message:delete": "message",
  "message:react": "message",
  "typing:start": "typing",
  "typing:stop": "typing",
  "conversation:delivered": "receipt",
  "conversation:read": "receipt",
  "presence:query": "presence",
  sync: "sync",
  "auth:refresh": "refresh",
  "call:initiate": "call",
  "call:offer": "call",
  "call:answer": "call",
  "call:ice-candidate": "call",
  "call:reject": "call",
  "call:cancel": "call",
  "call:end": "call",
} as const satisfies Record<keyof ClientToServerEvents, RateAction>;

/** The buckets client events take from. */
export type EventRateAction = (typeof EVENT_ACTIONS)[keyof typeof EVENT_ACTIONS];

/** What {@link createEventLimiter} builds its limiter from. */
export interface EventLimitDeps {
  redis: RedisClient;
  keys: RedisKeys;
  config: RateLimitConfig;
  log: Logger;
}

/** The limiter of a gateway's client events, from its configuration. */
export function createEventLimiter({ redis, keys, config, log }: EventLimitDeps): RateLimiter {
  return new RateLimiter({ redis, keys, limits: rateLimitsFromConfig(config), enabled: config.RATE_LIMITS_ENABLED, log });
}
