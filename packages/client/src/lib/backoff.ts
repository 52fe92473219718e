/**
 * Full-jitter exponential backoff: the wait before retry `attempt` is uniform in
 * `[0, min(maxMs, baseMs * 2^attempt))`, so that clients cut off together do not come back together.
 */

/** Bounds of a backoff. */
export interface BackoffOptions {
  /** The cap of the first wait, in milliseconds. @default 500 */
  baseMs?: number;
  /** The largest cap, in milliseconds. @default 30000 */
  maxMs?: number;
}

const DEFAULT_BASE_MS = 500;
const DEFAULT_MAX_MS = 30_000;

/** The upper bound (exclusive) of the wait before retry `attempt` (0 for the first retry). */
export function backoffCap(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BASE_MS;
  const max = options.maxMs ?? DEFAULT_MAX_MS;
  // 2^attempt overflows to Infinity after ~1000 attempts; min() keeps it at max.
  return Math.min(max, base * 2 ** Math.max(0, attempt));
}

/** A wait, in whole milliseconds, before retry `attempt`: full jitter under {@link backoffCap}. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCap(attempt, options));
}
