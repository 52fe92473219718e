/** Call-signaling settings, from the environment (spread into the gateway's config schema). */
import { intVar } from "@parley/shared/config";

export const callsConfigShape = {
  /**
   * A call nobody answers within this many milliseconds is missed (`call:missed` to both parties).
   * @default 30000
   */
  CALL_RING_TIMEOUT_MS: intVar(100).default(30_000),
  /**
   * How often each gateway looks for ringing calls past their timeout, in milliseconds.
   * @default 1000
   */
  CALL_SWEEP_INTERVAL_MS: intVar(20).default(1_000),
  /**
   * How long a call's state in Redis outlives the last refresh by a gateway that holds one of its parties,
   * in milliseconds (gateways refresh every third of it). If every gateway of a call dies, its state,
   * and with it both users' busy marks, expire after this.
   * @default 60000
   */
  CALL_TTL_MS: intVar(300).default(60_000),
} as const;
