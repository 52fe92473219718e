/**
 * What k6's runtime offers without an import and `@types/k6` does not declare: the console and the
 * timers of `k6/timers`, which k6 also installs as globals. Only type-checking reads this file
 * (tsconfig.load-tests.json); k6 never loads it.
 */
import type { IntervalID, TimeoutID } from "k6/timers";

declare global {
  /** k6's console: each level goes to k6's log at that level. */
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  }
  var console: Console;

  /** `setTimeout` of `k6/timers`. */
  var setTimeout: typeof import("k6/timers").setTimeout;
  /** `setInterval` of `k6/timers`. */
  var setInterval: typeof import("k6/timers").setInterval;
  /** `clearTimeout` of `k6/timers`; an id of `undefined` (no timer set) is ignored. */
  function clearTimeout(id: TimeoutID | undefined): void;
  /** `clearInterval` of `k6/timers`; an id of `undefined` (no interval set) is ignored. */
  function clearInterval(id: IntervalID | undefined): void;
}
