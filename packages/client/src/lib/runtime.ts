/**
 * What every subsystem of a client shares: its timers, logger, randomness, retry bounds, and whether a
 * session is ready.
 */
import type { BackoffOptions } from "./backoff.js";
import type { Logger } from "./logger.js";
import type { Timers } from "./timers.js";

/** The shared runtime of one client's subsystems. */
export interface Runtime {
  timers: Timers;
  logger: Logger;
  /** Uniform in [0, 1): `Math.random`. */
  random: () => number;
  /** Bounds of every retry backoff. */
  backoff: BackoffOptions;
  /** Whether a session is ready: requests may go. */
  isReady: () => boolean;
}
