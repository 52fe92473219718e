/**
 * soak: steady chat load for SOAK_DURATION (1 h); latency must not drift, nothing may be lost.
 *
 * The chat workload at a moderate, constant rate for a long time, to surface leaks and slow growth:
 * memory per gateway, a queue that never quite drains, Redis keys without expiry. k6 checks the
 * clients' view: delivery latency over the last tenth of the run is compared with the first tenth
 * (`latency_drift`, per VU, ms of p95), and the last tenth must meet the same p99 as the whole run.
 * Watch the servers' side meanwhile on the Grafana dashboard (memory, event-loop lag, queue depth).
 *
 * Environment (TARGET, API_URL, SOCKET_URL and the chat variables as in chat.js):
 *   SOAK_DURATION   1h      send window (e.g. SOAK_DURATION=10m for a short soak)
 *   CONVERSATIONS   50
 *   MEMBERS         4
 *   RATE            0.5     messages per second per member: 100 sends/s, 300 deliveries/s
 *   RAMP            30s
 *   DELIVERY_P99_MS 200     threshold: delivery_latency p(99), overall and over the last tenth
 *   MAX_DRIFT_MS    50      threshold: latency_drift (late p95 − early p95) at most this, every VU
 *   MAX_ERROR_RATE  0.001   threshold: send_errors and connect_failures rates
 *   MAX_MISSED      0       threshold: missed count at most this
 *   MAX_DISCONNECTS 0       threshold: connections lost during the run
 */
import { CLIENT_SPEC, chatOptions, chatPlan, chatSetup, chatThresholds, defaultVus, runChatVU } from "../lib/chat.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";

const env = readEnv({
  ...TARGET_SPEC,
  SOAK_DURATION: { type: "duration", default: 3_600_000, min: 10_000 },
  CONVERSATIONS: { type: "int", default: 50, min: 1 },
  MEMBERS: { type: "int", default: 4, min: 2, max: 1000 },
  RATE: { type: "number", default: 0.5, min: 0.01 },
  RAMP: { type: "duration", default: 30_000 },
  DRAIN: { type: "duration", default: 3_000 },
  // Both read above, as whole numbers.
  VUS: { type: "int", default: (v) => defaultVus(/** @type {number} */ (v.CONVERSATIONS) * /** @type {number} */ (v.MEMBERS)), min: 1 },
  ...CLIENT_SPEC,
  DELIVERY_P99_MS: { type: "number", default: 200, min: 0 },
  MAX_DRIFT_MS: { type: "number", default: 50, min: 0 },
  MAX_ERROR_RATE: { type: "number", default: 0.001, min: 0, max: 1 },
  MAX_MISSED: { type: "int", default: 0, min: 0 },
  MAX_DISCONNECTS: { type: "int", default: 0, min: 0 },
});

const plan = chatPlan("soak", env, {
  sockets: env.CONVERSATIONS * env.MEMBERS,
  durationMs: env.SOAK_DURATION,
  rate: env.RATE,
  phases: true,
});

export const options = chatOptions(plan, {
  ...chatThresholds(env, env.RATE),
  "delivery_latency{phase:early}": [`p(99)<${env.DELIVERY_P99_MS}`],
  "delivery_latency{phase:late}": [`p(99)<${env.DELIVERY_P99_MS}`],
  latency_drift: [`max<=${env.MAX_DRIFT_MS}`],
  disconnects: [`count<=${env.MAX_DISCONNECTS}`],
});

export function setup() {
  return chatSetup({ apiUrl: env.API_URL, conversations: env.CONVERSATIONS, members: env.MEMBERS });
}

/** @param {import("../lib/chat.js").ChatData} data */
export default function (data) {
  return runChatVU(data, plan);
}
