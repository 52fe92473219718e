/**
 * reconnect: chat load while a share of the sockets drops and reconnects every second; nothing lost.
 *
 * The chat workload (CONVERSATIONS × MEMBERS sockets, each sending RATE messages per second), and
 * every second each connected socket is dropped with probability DROP_SHARE: its WebSocket closes
 * without a Socket.IO goodbye (the server sees `transport close`), and it connects again after a
 * random delay in [RECONNECT_MIN_DELAY_MS, RECONNECT_MAX_DELAY_MS]. Like a real client it then
 *   - calls `sync` for its conversation from the last seq it holds: what it missed while away counts
 *     as `recovered`, what the server cannot supply as `missed`;
 *   - resends, with the same clientMsgId, the sends whose ack the drop swallowed (`send_retries`): the
 *     server must answer with the original message, never store it twice (`duplicates`).
 * A socket does not send while it is away. Delivery latency is measured on live deliveries only.
 *
 * Environment (TARGET, API_URL, SOCKET_URL, and the chat variables as in chat.js):
 *   CONVERSATIONS 20, MEMBERS 5, RATE 1, DURATION 60s, RAMP 10s, DRAIN 3s
 *   DROP_SHARE              0.05    per socket and second
 *   RECONNECT_MIN_DELAY_MS  100
 *   RECONNECT_MAX_DELAY_MS  1000
 *   DELIVERY_P99_MS         500     threshold: delivery_latency p(99) below it
 *   RECONNECT_P99_MS        1000    threshold: reconnect_time p(99) below it
 *   MAX_ERROR_RATE          0.01    threshold: send_errors, connect_failures, reconnect_failures rates
 *   MAX_MISSED              0       threshold: missed count at most this; duplicates must be 0
 */
import { GROUP_CHAT_SPEC, chatOptions, chatPlan, chatSetup, chatThresholds, runChatVU } from "../lib/chat.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";

const env = readEnv({
  ...TARGET_SPEC,
  ...GROUP_CHAT_SPEC,
  DRAIN: { type: "duration", default: 3_000 },
  DROP_SHARE: { type: "number", default: 0.05, min: 0, max: 1 },
  RECONNECT_MIN_DELAY_MS: { type: "int", default: 100, min: 0 },
  RECONNECT_MAX_DELAY_MS: { type: "int", default: 1_000, min: 0 },
  DELIVERY_P99_MS: { type: "number", default: 500, min: 0 },
  RECONNECT_P99_MS: { type: "number", default: 1_000, min: 0 },
  MAX_ERROR_RATE: { type: "number", default: 0.01, min: 0, max: 1 },
  MAX_MISSED: { type: "int", default: 0, min: 0 },
});

const plan = chatPlan("reconnect", env, {
  sockets: env.CONVERSATIONS * env.MEMBERS,
  durationMs: env.DURATION,
  rate: env.RATE,
  drops: {
    share: env.DROP_SHARE,
    minDelayMs: env.RECONNECT_MIN_DELAY_MS,
    maxDelayMs: Math.max(env.RECONNECT_MIN_DELAY_MS, env.RECONNECT_MAX_DELAY_MS),
  },
});

export const options = chatOptions(plan, {
  ...chatThresholds(env, env.RATE),
  reconnect_time: [`p(99)<${env.RECONNECT_P99_MS}`],
  reconnect_failures: [`rate<=${env.MAX_ERROR_RATE}`],
  duplicates: ["count<1"],
  ...(env.DROP_SHARE > 0 ? { reconnects: ["count>0"] } : {}),
});

export function setup() {
  return chatSetup({ apiUrl: env.API_URL, conversations: env.CONVERSATIONS, members: env.MEMBERS });
}

/** @param {import("../lib/chat.js").ChatData} data */
export default function (data) {
  return runChatVU(data, plan);
}
