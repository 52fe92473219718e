/** Presence settings, from the environment (spread into the gateway's config schema). */
import { intVar } from "@parley/shared/config";

export const presenceConfigShape = {
  /**
   * How often each gateway renews its heartbeat in Redis and looks for dead gateways to clean up after,
   * in milliseconds.
   * @default 5000
   */
  PRESENCE_HEARTBEAT_MS: intVar(50).default(5_000),
  /**
   * A gateway whose last heartbeat is older than this is dead: any other gateway removes its sockets
   * from presence and announces the users who went offline. Must be more than twice the heartbeat.
   * With the defaults a SIGKILLed gateway's users are offline within 20 seconds
   * ({@link presenceExpiryBoundMs}).
   * @default 15000
   */
  PRESENCE_NODE_TTL_MS: intVar(200).default(15_000),
} as const;

export interface PresenceConfig {
  PRESENCE_HEARTBEAT_MS: number;
  PRESENCE_NODE_TTL_MS: number;
}

/**
 * Longest time the sockets of a gateway that died without a word still count as online: its heartbeat
 * must first be older than the TTL, then the next periodic check of a surviving gateway (at most one
 * heartbeat period later) reaps it.
 */
export function presenceExpiryBoundMs(config: PresenceConfig): number {
  return config.PRESENCE_NODE_TTL_MS + config.PRESENCE_HEARTBEAT_MS;
}

/** @throws {Error} when the TTL leaves too little room for a late heartbeat. */
export function checkPresenceConfig(config: PresenceConfig): void {
  if (config.PRESENCE_NODE_TTL_MS <= 2 * config.PRESENCE_HEARTBEAT_MS) {
    throw new Error(
      `PRESENCE_NODE_TTL_MS (${config.PRESENCE_NODE_TTL_MS}) must be more than twice PRESENCE_HEARTBEAT_MS (${config.PRESENCE_HEARTBEAT_MS})`,
    );
  }
}
