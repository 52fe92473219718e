/**
 * fanout: large groups, one slow sender each; delivery latency at every one of the members.
 *
 * GROUPS groups of GROUP_SIZE members, every member on a socket. In each group SENDERS members (the
 * first ones) send SEND_RATE messages per second each; all the others receive, measure delivery
 * latency and check seqs. One message is GROUP_SIZE - 1 deliveries spread over every gateway: this is
 * the cost of a broadcast, the adapter's fan-out and each gateway's encoding.
 *
 * Environment (TARGET, API_URL, SOCKET_URL as in chat.js):
 *   GROUPS           2
 *   GROUP_SIZE       500       parley allows up to 1000 members
 *   SENDERS          1         per group
 *   SEND_RATE        1         messages per second per sender
 *   DURATION         60s       send window, after the ramp
 *   RAMP             30s       sockets connect evenly over it (registering users comes first)
 *   DRAIN            3s
 *   VUS              1 per 50 sockets, 1..8
 *   ACK_TIMEOUT_MS, CONNECT_TIMEOUT_MS, GAP_GRACE_MS, MESSAGE_BYTES as in chat.js
 *   DELIVERY_P99_MS  500       threshold: delivery_latency p(99) below it
 *   MAX_ERROR_RATE   0.01      threshold: send_errors and connect_failures rates
 *   MAX_MISSED       0         threshold: missed count at most this
 */
import { CLIENT_SPEC, chatOptions, chatPlan, chatSetup, chatThresholds, defaultVus, runChatVU } from "../lib/chat.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";

const env = readEnv({
  ...TARGET_SPEC,
  GROUPS: { type: "int", default: 2, min: 1 },
  GROUP_SIZE: { type: "int", default: 500, min: 3, max: 1000 },
  SENDERS: { type: "int", default: 1, min: 1 },
  SEND_RATE: { type: "number", default: 1, min: 0 },
  DURATION: { type: "duration", default: 60_000, min: 1_000 },
  RAMP: { type: "duration", default: 30_000 },
  DRAIN: { type: "duration", default: 3_000 },
  // Both read above, as whole numbers.
  VUS: { type: "int", default: (v) => defaultVus(/** @type {number} */ (v.GROUPS) * /** @type {number} */ (v.GROUP_SIZE)), min: 1 },
  ...CLIENT_SPEC,
  DELIVERY_P99_MS: { type: "number", default: 500, min: 0 },
  MAX_ERROR_RATE: { type: "number", default: 0.01, min: 0, max: 1 },
  MAX_MISSED: { type: "int", default: 0, min: 0 },
});

const plan = chatPlan("fanout", env, {
  sockets: env.GROUPS * env.GROUP_SIZE,
  durationMs: env.DURATION,
  rate: env.SEND_RATE,
  sendersPerConversation: env.SENDERS,
});

export const options = chatOptions(plan, chatThresholds(env, env.SEND_RATE));

export function setup() {
  return chatSetup({ apiUrl: env.API_URL, conversations: env.GROUPS, members: env.GROUP_SIZE });
}

/** @param {import("../lib/chat.js").ChatData} data */
export default function (data) {
  return runChatVU(data, plan);
}
