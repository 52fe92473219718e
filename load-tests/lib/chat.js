/**
 * The chat workload shared by `chat`, `fanout`, `reconnect` and `soak`: conversations whose members
 * each hold a socket, senders that send at a fixed rate whatever the answers (an open loop, so a slow
 * server shows as latency, not as a lower rate), and receivers that measure and check every message.
 *
 * Timeline, the same for every VU (from `t0`, set by `setup()`):
 *   [t0, t0 + ramp)           sockets connect, spread evenly over the ramp
 *   [t0 + ramp, + duration)   senders send; each sender starts at a random phase of its period
 *   [end, end + drain)        no new sends; late deliveries and acks arrive
 *   then                      every receiver syncs once more (finds tail losses), sockets close
 * Counters per second are therefore best taken over `duration`, not over k6's whole run time.
 */
import exec from "k6/execution";

import { Api, chunk, runId } from "./api.js";
import { ChatMember, sleep } from "./member.js";
import {
  latencyDrift,
  messagesDelivered,
  messagesSent,
  missed,
  recovered,
  duplicates,
  sendRetries,
  disconnects,
  sessionRefreshes,
  sessionRefreshFailures,
  syncErrors,
  touch,
} from "./metrics.js";

/** @typedef {import("./api.js").UserToken} UserToken */
/** @typedef {import("./env.js").EnvSpec} EnvSpec */

/**
 * What `setup()` of a chat workload hands every VU.
 *
 * @typedef {object} ChatData
 * @property {Array<{ id: string, members: UserToken[] }>} conversations
 * @property {number} t0 when every VU starts its timeline (ms since the epoch)
 */

/**
 * A chat workload, from {@link chatPlan}, run by {@link runChatVU}.
 *
 * @typedef {object} ChatPlan
 * @property {string} name the k6 scenario's name
 * @property {string} socketUrl
 * @property {string} [apiUrl] where sockets refresh their tokens (see ChatMember)
 * @property {number} vus
 * @property {number} rampMs
 * @property {number} durationMs
 * @property {number} drainMs
 * @property {number} rate messages per second per sender
 * @property {number} [sendersPerConversation] the first N members send; every member when unset
 * @property {number} ackTimeoutMs
 * @property {number} connectTimeoutMs
 * @property {number} gapGraceMs
 * @property {number} [messageBytes]
 * @property {{ share: number, minDelayMs: number, maxDelayMs: number }} [drops] reconnect scenario:
 *   every second, each connected socket is dropped with probability `share` and reconnects after a
 *   random delay
 * @property {boolean} [phases] soak: tag delivery samples with `phase` (early, middle, late tenths)
 *   and report `latency_drift`
 * @property {string} [setupTimeout] k6's `setupTimeout`, 15m when unset
 */

/**
 * The settings {@link chatPlan} reads from a scenario's environment.
 *
 * @typedef {object} ChatEnv
 * @property {string} SOCKET_URL
 * @property {string} API_URL
 * @property {number} VUS
 * @property {number} RAMP
 * @property {number} DRAIN
 * @property {number} ACK_TIMEOUT_MS
 * @property {number} CONNECT_TIMEOUT_MS
 * @property {number} GAP_GRACE_MS
 * @property {number} MESSAGE_BYTES
 */

/**
 * `setup()` of a chat workload: `conversations` × `members` fresh users, each conversation a direct
 * one (2 members) or a group. Returns the data every VU receives.
 *
 * @param {{ apiUrl: string, conversations: number, members: number, startDelayMs?: number }} world
 * @returns {ChatData}
 */
export function chatSetup({ apiUrl, conversations, members, startDelayMs = 1_000 }) {
  const api = new Api(apiUrl);
  api.ready();
  const users = api.registerUsers(conversations * members, `k6${runId()}`);
  const groups = chunk(users, members);
  const ids = api.createConversations(groups);
  return {
    conversations: ids.map((id, i) => ({ id, members: /** @type {import("./api.js").LoadUser[]} */ (groups[i]).map((u) => ({ id: u.id, token: u.token, refreshToken: u.refreshToken })) })),
    // Every VU schedules from this instant, so the ramp and the send window are the same for all.
    t0: Date.now() + startDelayMs,
  };
}

/**
 * VUs for `sockets` sockets: enough to use both cores of the load generator, few enough to stay light.
 *
 * @param {number} sockets
 */
export function defaultVus(sockets) {
  return Math.max(1, Math.min(8, Math.ceil(sockets / 50)));
}

/** Settings of every chat member's client, read by every chat workload (see scenarios/chat.js). */
export const CLIENT_SPEC = /** @satisfies {EnvSpec} */ ({
  MESSAGE_BYTES: { type: "int", default: 0, min: 0, max: 4000 },
  ACK_TIMEOUT_MS: { type: "int", default: 10_000, min: 100 },
  CONNECT_TIMEOUT_MS: { type: "int", default: 10_000, min: 100 },
  GAP_GRACE_MS: { type: "int", default: 1_000, min: 0 },
});

/**
 * The group-chat workload of scenarios/chat.js, also driven by scenarios/reconnect.js: CONVERSATIONS
 * groups of MEMBERS, each member sending RATE msgs/s for DURATION after a RAMP, with the client settings.
 */
export const GROUP_CHAT_SPEC = /** @satisfies {EnvSpec} */ ({
  CONVERSATIONS: { type: "int", default: 20, min: 1 },
  MEMBERS: { type: "int", default: 5, min: 2, max: 1000 },
  RATE: { type: "number", default: 1, min: 0 },
  DURATION: { type: "duration", default: 60_000, min: 1_000 },
  RAMP: { type: "duration", default: 10_000 },
  // Both read above, as whole numbers.
  VUS: { type: "int", default: (v) => defaultVus(/** @type {number} */ (v.CONVERSATIONS) * /** @type {number} */ (v.MEMBERS)), min: 1 },
  ...CLIENT_SPEC,
});

/**
 * The plan of {@link runChatVU} from a scenario's environment: `env` holds SOCKET_URL, VUS, RAMP,
 * DRAIN and {@link CLIENT_SPEC}; `shape` what differs between scenarios (sockets, send window, rate,
 * and any option of the plan).
 *
 * @param {string} name
 * @param {ChatEnv} env
 * @param {{ sockets: number, durationMs: number, rate: number } & Partial<ChatPlan>} shape
 * @returns {ChatPlan}
 */
export function chatPlan(name, env, { sockets, durationMs, rate, ...extra }) {
  return {
    name,
    socketUrl: env.SOCKET_URL,
    apiUrl: env.API_URL,
    vus: Math.min(env.VUS, sockets),
    rampMs: env.RAMP,
    durationMs,
    drainMs: env.DRAIN,
    rate,
    ackTimeoutMs: env.ACK_TIMEOUT_MS,
    connectTimeoutMs: env.CONNECT_TIMEOUT_MS,
    gapGraceMs: env.GAP_GRACE_MS,
    messageBytes: env.MESSAGE_BYTES,
    ...extra,
  };
}

/**
 * The thresholds every chat workload shares: delivery p99, errors, losses, and that it moved something.
 *
 * @param {{ DELIVERY_P99_MS: number, MAX_ERROR_RATE: number, MAX_MISSED: number }} env
 * @param {number} rate
 * @returns {Record<string, string[]>}
 */
export function chatThresholds(env, rate) {
  return {
    delivery_latency: [`p(99)<${env.DELIVERY_P99_MS}`],
    send_errors: [`rate<=${env.MAX_ERROR_RATE}`],
    connect_failures: [`rate<=${env.MAX_ERROR_RATE}`],
    missed: [`count<=${env.MAX_MISSED}`],
    // A run that moved nothing is a failure, not a fast run.
    ...(rate > 0 ? { messages_delivered: ["count>0"] } : {}),
  };
}

/**
 * k6 options of a chat workload: one iteration per VU, which lasts the whole timeline.
 *
 * @param {ChatPlan} plan
 * @param {Record<string, string[]>} thresholds
 * @param {import("k6/options").Options} [extra]
 * @returns {import("k6/options").Options}
 */
export function chatOptions(plan, thresholds, extra = {}) {
  const totalMs = plan.rampMs + plan.durationMs + plan.drainMs;
  return {
    scenarios: {
      [plan.name]: {
        executor: "per-vu-iterations",
        vus: plan.vus,
        iterations: 1,
        // Room for the last syncs and for VUs that start late; gracefulStop then interrupts.
        maxDuration: `${Math.ceil((totalMs + 60_000) / 1000)}s`,
        gracefulStop: "30s",
      },
    },
    setupTimeout: plan.setupTimeout ?? "15m",
    thresholds,
    summaryTrendStats: ["avg", "min", "med", "p(50)", "p(90)", "p(95)", "p(99)", "max", "count"],
    ...extra,
  };
}

/**
 * One VU's part of the workload: the sockets whose global index ≡ this VU (mod `plan.vus`).
 *
 * @param {ChatData} data from {@link chatSetup}
 * @param {ChatPlan} plan
 */
export async function runChatVU(data, plan) {
  touch(messagesSent, messagesDelivered, missed, recovered, duplicates, sendRetries, disconnects, syncErrors, sessionRefreshes, sessionRefreshFailures);
  const vu = exec.vu.idInTest - 1;
  const sendStart = data.t0 + plan.rampMs;
  const sendEnd = sendStart + plan.durationMs;
  const drift = plan.phases ? new DriftWatch(sendStart, plan.durationMs) : undefined;

  /** @type {Array<{ global: number, conversation: ChatData["conversations"][number], user: UserToken, sender: boolean }>} */
  const sockets = [];
  let total = 0;
  for (const conversation of data.conversations) {
    conversation.members.forEach((user, index) => {
      if (total % plan.vus === vu) sockets.push({ global: total, conversation, user, sender: index < (plan.sendersPerConversation ?? Infinity) });
      total++;
    });
  }

  const members = sockets.map(({ conversation, user }) =>
    new ChatMember(user, [conversation.id], {
      socketUrl: plan.socketUrl,
      apiUrl: plan.apiUrl,
      connectTimeoutMs: plan.connectTimeoutMs,
      ackTimeoutMs: plan.ackTimeoutMs,
      gapGraceMs: plan.gapGraceMs,
      messageBytes: plan.messageBytes,
      retryLostSends: Boolean(plan.drops),
      checkDuplicates: Boolean(plan.drops),
      tagsOf: drift ? (sentAt) => drift.tagsOf(sentAt) : undefined,
      onDelivery: drift ? (latency, sentAt) => drift.add(latency, sentAt) : undefined,
    }),
  );

  const started = sockets.map(({ global }, i) => sleep(data.t0 + (plan.rampMs * global) / total - Date.now()).then(() => /** @type {ChatMember} */ (members[i]).start()));
  /** @type {Promise<void>[]} */
  const senders = [];
  sockets.forEach(({ sender, conversation }, i) => {
    if (sender && plan.rate > 0) senders.push(sendPeriodically(/** @type {ChatMember} */ (members[i]), conversation.id, plan.rate, sendStart, sendEnd));
  });
  const dropper = plan.drops ? dropPeriodically(members, plan.drops, sendStart, sendEnd) : undefined;

  await Promise.all(started);
  await Promise.all(senders);
  await sleep(sendEnd + plan.drainMs - Date.now());
  clearInterval(dropper);
  await Promise.all(members.map((m) => m.finish()));
  if (drift) drift.report();
  for (const member of members) member.close();
}

/**
 * Sends at `rate` per second in [from, until), at a random phase; late timers catch up.
 *
 * @param {ChatMember} member
 * @param {string} conversationId
 * @param {number} rate
 * @param {number} from
 * @param {number} until
 * @returns {Promise<void>}
 */
function sendPeriodically(member, conversationId, rate, from, until) {
  const period = 1000 / rate;
  const phase = Math.random() * period;
  let n = 0;
  return new Promise((resolve) => {
    const tick = () => {
      if (Date.now() >= until) return resolve();
      member.send(conversationId);
      n++;
      setTimeout(tick, from + phase + n * period - Date.now());
    };
    setTimeout(tick, from + phase - Date.now());
  });
}

/**
 * Every second of [from, until): drop each connected member with probability `share`.
 *
 * @param {ChatMember[]} members
 * @param {{ share: number, minDelayMs: number, maxDelayMs: number }} drops
 * @param {number} from
 * @param {number} until
 */
function dropPeriodically(members, { share, minDelayMs, maxDelayMs }, from, until) {
  return setInterval(() => {
    const now = Date.now();
    if (now < from || now >= until) return;
    for (const member of members) {
      if (member.ready && Math.random() < share) member.reconnect(minDelayMs + Math.random() * (maxDelayMs - minDelayMs), until);
    }
  }, 1_000);
}

/**
 * Soak: delivery latency of the first and the last tenth of the send window, kept per VU in bounded
 * reservoirs, so that a slow drift (a leak, a growing queue) shows as `latency_drift` at the end.
 */
class DriftWatch {
  /**
   * @param {number} from start of the send window (ms since the epoch)
   * @param {number} durationMs
   */
  constructor(from, durationMs) {
    this.earlyEnd = from + durationMs / 10;
    this.lateStart = from + durationMs - durationMs / 10;
    this.early = new Reservoir(5_000);
    this.late = new Reservoir(5_000);
    this.tags = { early: { phase: "early" }, middle: { phase: "middle" }, late: { phase: "late" } };
  }

  /** @param {number} sentAt */
  phaseOf(sentAt) {
    return sentAt < this.earlyEnd ? "early" : sentAt >= this.lateStart ? "late" : "middle";
  }

  /** @param {number} sentAt */
  tagsOf(sentAt) {
    return this.tags[this.phaseOf(sentAt)];
  }

  /**
   * @param {number} latency
   * @param {number} sentAt
   */
  add(latency, sentAt) {
    const phase = this.phaseOf(sentAt);
    if (phase === "early") this.early.add(latency);
    else if (phase === "late") this.late.add(latency);
  }

  report() {
    if (this.early.seen < 20 || this.late.seen < 20) return;
    // Both hold 20 values or more.
    latencyDrift.add(/** @type {number} */ (this.late.quantile(0.95)) - /** @type {number} */ (this.early.quantile(0.95)));
  }
}

/** Uniform sample of at most `size` values (Vitter's algorithm R). */
class Reservoir {
  /** @param {number} size */
  constructor(size) {
    this.size = size;
    /** @type {number[]} */
    this.values = [];
    this.seen = 0;
  }

  /** @param {number} value */
  add(value) {
    this.seen++;
    if (this.values.length < this.size) this.values.push(value);
    else {
      const i = Math.floor(Math.random() * this.seen);
      if (i < this.size) this.values[i] = value;
    }
  }

  /**
   * The `q` quantile of the sample; undefined while it is empty.
   *
   * @param {number} q
   */
  quantile(q) {
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }
}
