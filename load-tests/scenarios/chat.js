/**
 * chat: conversations whose members all send at a steady rate; delivery latency, acks, losses.
 *
 * CONVERSATIONS conversations of MEMBERS members; every member holds a socket and sends RATE messages
 * per second. Every receiver measures end-to-end delivery latency from the send time written in the
 * message, and checks by seq that nothing is missing (filling holes with `sync`).
 *
 * `npm run bench` drives this scenario and reads these metric names from `--summary-export`:
 * delivery_latency, ack_latency (Trends, ms), messages_sent, messages_delivered, missed (Counters),
 * send_errors (Rate). Keep them, and the variables below, as they are.
 *
 * Environment:
 *   TARGET           http://localhost:8080   the deployment (nginx origin)
 *   API_URL          TARGET                  REST API for setup()
 *   SOCKET_URL       TARGET                  where the sockets connect (e.g. one bare gateway)
 *   CONVERSATIONS    20
 *   MEMBERS          5                       per conversation (2: direct conversations)
 *   RATE             1                       messages per second per member (0: only listen)
 *   DURATION         60s                     send window, after the ramp
 *   RAMP             10s                     sockets connect evenly over it
 *   DRAIN            2s                      wait after the last send before the final checks
 *   VUS              1 per 50 sockets, 1..8  sockets are spread over them
 *   MESSAGE_BYTES    0                       pad contents to this size (0: ~20 characters)
 *   ACK_TIMEOUT_MS   10000                   a send (or sync) without an ack by then failed
 *   CONNECT_TIMEOUT_MS 10000                 to session:ready
 *   GAP_GRACE_MS     1000                    a hole in seqs may wait this long for a late message
 *   DELIVERY_P99_MS  200                     threshold: delivery_latency p(99) below it
 *   MAX_ERROR_RATE   0.01                    threshold: send_errors and connect_failures rates
 *   MAX_MISSED       0                       threshold: missed count at most this
 *
 * Rate limits: the cluster allows 10 messages per second per user (bursts of 50). Above RATE=10, run
 * the cluster with RATE_LIMITS_ENABLED=false, or the excess counts as send errors (RATE_LIMITED).
 */
import { GROUP_CHAT_SPEC, chatOptions, chatPlan, chatSetup, chatThresholds, runChatVU } from "../lib/chat.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";

const env = readEnv({
  ...TARGET_SPEC,
  ...GROUP_CHAT_SPEC,
  DRAIN: { type: "duration", default: 2_000 },
  DELIVERY_P99_MS: { type: "number", default: 200, min: 0 },
  MAX_ERROR_RATE: { type: "number", default: 0.01, min: 0, max: 1 },
  MAX_MISSED: { type: "int", default: 0, min: 0 },
});

const plan = chatPlan("chat", env, { sockets: env.CONVERSATIONS * env.MEMBERS, durationMs: env.DURATION, rate: env.RATE });

export const options = chatOptions(plan, chatThresholds(env, env.RATE));

export function setup() {
  return chatSetup({ apiUrl: env.API_URL, conversations: env.CONVERSATIONS, members: env.MEMBERS });
}

/** @param {import("../lib/chat.js").ChatData} data */
export default function (data) {
  return runChatVU(data, plan);
}
