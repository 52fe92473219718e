/** Typing-indicator settings, from the environment (spread into the gateway's config schema). */
import { intVar } from "@parley/shared/config";

export const typingConfigShape = {
  /**
   * A typing state that is not refreshed by another `typing:start` within this many milliseconds stops
   * by itself (the other members get `typing` with `isTyping: false`).
   * @default 5000
   */
  TYPING_TIMEOUT_MS: intVar(100).default(5_000),
} as const;
