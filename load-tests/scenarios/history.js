/**
 * history: REST history pagination under load; page latency and correctness.
 *
 * setup() fills CONVERSATIONS groups of USERS members with HISTORY_MESSAGES messages each, through
 * REST, and waits until the worker has stored them all. More than the 1000 recent messages Redis keeps
 * per conversation (STREAM_MAX_LENGTH), so the newest pages come from Redis and the older ones from
 * MongoDB. Then, for DURATION:
 *   - `readers`: RATE times per second a random member reads a whole conversation backwards, PAGE_SIZE
 *     messages per page, following `nextBefore` to the first message. Every page is checked: 200,
 *     ascending seqs without a hole, joined to the page after it, the walk ending at seq 1 with
 *     `nextBefore: null`.
 *   - `writers`: WRITE_RATE new messages per second through REST into the same conversations, so the
 *     top pages change while they are read.
 *
 * Environment (TARGET, API_URL as in chat.js):
 *   CONVERSATIONS     4
 *   USERS             40       members of every conversation (they share the seeding: 10 msgs/s each)
 *   HISTORY_MESSAGES  1200     per conversation
 *   PAGE_SIZE         50       1..100
 *   RATE              4        whole-history reads per second (HISTORY_MESSAGES / PAGE_SIZE pages each)
 *   WRITE_RATE        5        messages per second (0: none)
 *   DURATION          60s
 *   HISTORY_P95_MS    250      threshold: history_page_latency p(95) below it
 *   HISTORY_P99_MS    1000     threshold: history_page_latency p(99) below it
 *   MAX_ERROR_RATE    0.01     threshold: history_errors rate at most this
 */
import { Api, runId } from "../lib/api.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";
import { SUMMARY_TREND_STATS, historyErrors, historyPageLatency, historyPages } from "../lib/metrics.js";
import { logOnce } from "../lib/member.js";

const env = readEnv({
  ...TARGET_SPEC,
  CONVERSATIONS: { type: "int", default: 4, min: 1 },
  USERS: { type: "int", default: 40, min: 2, max: 1000 },
  HISTORY_MESSAGES: { type: "int", default: 1_200, min: 1 },
  PAGE_SIZE: { type: "int", default: 50, min: 1, max: 100 },
  RATE: { type: "number", default: 4, min: 0.01 },
  WRITE_RATE: { type: "number", default: 5, min: 0 },
  DURATION: { type: "duration", default: 60_000, min: 1_000 },
  HISTORY_P95_MS: { type: "number", default: 250, min: 0 },
  HISTORY_P99_MS: { type: "number", default: 1_000, min: 0 },
  MAX_ERROR_RATE: { type: "number", default: 0.01, min: 0, max: 1 },
});

const pagesPerWalk = Math.ceil(env.HISTORY_MESSAGES / env.PAGE_SIZE) + 1;
// A walk takes pagesPerWalk requests in a row: size the VU pool for walks of ~50 ms pages, with room.
const readerVus = Math.max(2, Math.ceil(env.RATE * pagesPerWalk * 0.05 * 2));
const seconds = `${Math.ceil(env.DURATION / 1000)}s`;

export const options = {
  scenarios: {
    readers: {
      executor: "constant-arrival-rate",
      exec: "read",
      rate: Math.round(env.RATE * 100),
      timeUnit: "100s",
      duration: seconds,
      preAllocatedVUs: readerVus,
      maxVUs: readerVus * 5,
    },
    ...(env.WRITE_RATE > 0
      ? {
          writers: {
            executor: "constant-arrival-rate",
            exec: "write",
            rate: Math.round(env.WRITE_RATE * 100),
            timeUnit: "100s",
            duration: seconds,
            preAllocatedVUs: 2,
            maxVUs: 20,
          },
        }
      : {}),
  },
  setupTimeout: "15m",
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: {
    history_page_latency: [`p(95)<${env.HISTORY_P95_MS}`, `p(99)<${env.HISTORY_P99_MS}`],
    history_errors: [`rate<=${env.MAX_ERROR_RATE}`],
    history_pages: ["count>0"],
  },
};

const api = new Api(env.API_URL, { parallel: 16 });

/** @typedef {import("@parley/protocol").Message} Message */
/** @typedef {import("../lib/api.js").LoadUser} LoadUser */
/**
 * What `setup()` hands every VU.
 *
 * @typedef {object} HistoryData
 * @property {string[]} conversationIds
 * @property {import("../lib/api.js").UserToken[]} users
 */

/** @returns {HistoryData} */
export function setup() {
  api.ready();
  const users = api.registerUsers(env.USERS, `k6${runId()}`);
  /** @type {string[]} */
  const conversationIds = [];
  for (let c = 0; c < env.CONVERSATIONS; c++) conversationIds.push(...api.createConversations([users], () => `history ${c}`));
  // Round-robin over senders and conversations, so that every user's rate-limit bucket is used evenly.
  /** @type {Parameters<Api["postMessages"]>[0]} */
  const messages = [];
  for (let k = 0; k < env.HISTORY_MESSAGES; k++) {
    conversationIds.forEach((conversationId, c) => {
      const sender = /** @type {LoadUser} */ (users[(k * env.CONVERSATIONS + c) % users.length]);
      messages.push({ token: sender.token, conversationId, clientMsgId: `h${k}`, content: `history ${k}` });
    });
  }
  api.postMessages(messages);
  api.waitPersisted(
    () => /** @type {LoadUser} */ (users[0]).token,
    conversationIds.map((conversationId) => ({ conversationId, seq: env.HISTORY_MESSAGES })),
    300_000,
  );
  return { conversationIds, users: users.map((u) => ({ id: u.id, token: u.token })) };
}

/**
 * A random element of `list`, which is not empty.
 *
 * @template T
 * @param {T[]} list
 * @returns {T}
 */
function pick(list) {
  return /** @type {T} */ (list[Math.floor(Math.random() * list.length)]);
}

/**
 * One reader: the whole history of a conversation, newest page first.
 *
 * @param {HistoryData} data
 */
export function read(data) {
  const conversationId = pick(data.conversationIds);
  const { token } = pick(data.users);
  /** @type {number | undefined} */
  let before;
  /** @type {number | undefined} */
  let below; // the first seq of the previous page: this page must end right under it
  for (let page = 0; page < pagesPerWalk * 2; page++) {
    const res = api.historyPage(token, conversationId, { before, limit: env.PAGE_SIZE });
    historyPages.add(1);
    historyPageLatency.add(res.timings.duration);
    const problem = checkPage(res, below);
    historyErrors.add(problem !== undefined);
    if (problem !== undefined) {
      logOnce("history", `${conversationId} before=${before}: ${problem}`);
      return;
    }
    // checkPage found the page well formed, so it is not empty.
    const { messages, nextBefore } = /** @type {import("../lib/api.js").RouteOutput<"messages.history">} */ (res.json());
    if (nextBefore === null) {
      if (messages.length > 0 && /** @type {Message} */ (messages[0]).seq !== 1) {
        historyErrors.add(true);
        logOnce("history", `${conversationId}: the last page starts at seq ${/** @type {Message} */ (messages[0]).seq}, not 1`);
      }
      return;
    }
    below = /** @type {Message} */ (messages[0]).seq;
    before = nextBefore;
  }
  historyErrors.add(true);
  logOnce("history", `${conversationId}: more pages than ${pagesPerWalk * 2}`);
}

/**
 * Why a page is wrong, or undefined.
 *
 * @param {import("../lib/api.js").Response} res
 * @param {number | undefined} below
 * @returns {string | undefined}
 */
function checkPage(res, below) {
  if (res.status !== 200) return `status ${res.status}: ${String(res.body).slice(0, 200)}`;
  // What the route documents; checked below all the same, as this scenario exists to check it.
  const { messages, nextBefore } = /** @type {import("../lib/api.js").RouteOutput<"messages.history">} */ (res.json());
  if (!Array.isArray(messages) || messages.length === 0) return "an empty page";
  if (messages.length > env.PAGE_SIZE) return `${messages.length} messages in a page of ${env.PAGE_SIZE}`;
  // Indexes within bounds: every element is there.
  for (let i = 1; i < messages.length; i++) {
    if (/** @type {Message} */ (messages[i]).seq !== /** @type {Message} */ (messages[i - 1]).seq + 1) {
      return `seq ${/** @type {Message} */ (messages[i]).seq} follows ${/** @type {Message} */ (messages[i - 1]).seq}`;
    }
  }
  if (below !== undefined && /** @type {Message} */ (messages[messages.length - 1]).seq !== below - 1) {
    return `the page ends at seq ${/** @type {Message} */ (messages[messages.length - 1]).seq}, the next one starts at ${below}`;
  }
  if (nextBefore !== null && messages.length < env.PAGE_SIZE) return `a short page (${messages.length}) that is not the last`;
  return undefined;
}

let written = 0;

/**
 * One writer's message, into a random conversation from a random member.
 *
 * @param {HistoryData} data
 */
export function write(data) {
  const sender = pick(data.users);
  api.postMessages([{ token: sender.token, conversationId: pick(data.conversationIds), clientMsgId: `w${__VU}-${written++}`, content: `written ${Date.now()}` }]);
}
