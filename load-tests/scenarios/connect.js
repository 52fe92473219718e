/**
 * connect: ramp up to SOCKETS sockets and hold them; connect time, failures, drops.
 *
 * Sockets connect evenly over RAMP, each waiting for `session:ready` (handshake, token check, rooms of
 * the user's conversations joined), then stay connected for HOLD, answering Engine.IO pings, before
 * they close. Sockets share USERS users (several devices per user), because registering a user costs
 * a scrypt hash; users are put in groups of GROUP_SIZE, so every socket joins a conversation room.
 * A user may have at most MAX_SOCKETS_PER_USER (20) sockets open, so there are at least SOCKETS / 20
 * users. Sockets refresh their access tokens over REST when told they expire (`session:expiring`), so a
 * HOLD longer than the token lifetime holds them all the same.
 *
 * Environment (TARGET, API_URL, SOCKET_URL as in chat.js):
 *   SOCKETS            1000
 *   USERS              min(SOCKETS, max(200, SOCKETS / 20))
 *   GROUP_SIZE         10          members per conversation (0: no conversations)
 *   RAMP               30s
 *   HOLD               60s         after the ramp
 *   VUS                1 per 500 sockets, 1..32
 *   CONNECT_TIMEOUT_MS 10000       to session:ready
 *   CONNECT_P99_MS     1000        threshold: connect_time p(99) below it
 *   MAX_FAILURE_RATE   0           threshold: connect_failures rate at most this
 *   MAX_DISCONNECTS    0           threshold: sockets lost during the hold, at most this
 *
 * File descriptors: every socket is one in k6 and two in nginx. `ulimit -n` bounds what one process
 * holds (20,000 sockets need a limit above that for k6 and twice that for nginx).
 */
import exec from "k6/execution";

import { Api, chunk, runId } from "../lib/api.js";
import { TARGET_SPEC, readEnv } from "../lib/env.js";
import { ChatMember, sleep } from "../lib/member.js";
import { SUMMARY_TREND_STATS, disconnects, socketsHeld, touch } from "../lib/metrics.js";

const env = readEnv({
  ...TARGET_SPEC,
  SOCKETS: { type: "int", default: 1_000, min: 1 },
  // SOCKETS is read first, as a whole number.
  USERS: { type: "int", default: (v) => Math.min(/** @type {number} */ (v.SOCKETS), Math.max(200, Math.ceil(/** @type {number} */ (v.SOCKETS) / 20))), min: 1 },
  GROUP_SIZE: { type: "int", default: 10, min: 0, max: 1000 },
  RAMP: { type: "duration", default: 30_000 },
  HOLD: { type: "duration", default: 60_000 },
  VUS: { type: "int", default: (v) => Math.max(1, Math.min(32, Math.ceil(/** @type {number} */ (v.SOCKETS) / 500))), min: 1 },
  CONNECT_TIMEOUT_MS: { type: "int", default: 10_000, min: 100 },
  CONNECT_P99_MS: { type: "number", default: 1_000, min: 0 },
  MAX_FAILURE_RATE: { type: "number", default: 0, min: 0, max: 1 },
  MAX_DISCONNECTS: { type: "int", default: 0, min: 0 },
});
const vus = Math.min(env.VUS, env.SOCKETS);

export const options = {
  scenarios: {
    connect: {
      executor: "per-vu-iterations",
      vus,
      iterations: 1,
      maxDuration: `${Math.ceil((env.RAMP + env.HOLD + env.CONNECT_TIMEOUT_MS + 60_000) / 1000)}s`,
      gracefulStop: "30s",
    },
  },
  setupTimeout: "15m",
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: {
    connect_time: [`p(99)<${env.CONNECT_P99_MS}`],
    connect_failures: [`rate<=${env.MAX_FAILURE_RATE}`],
    disconnects: [`count<=${env.MAX_DISCONNECTS}`],
  },
};

export function setup() {
  const api = new Api(env.API_URL);
  api.ready();
  const users = api.registerUsers(env.USERS, `k6${runId()}`);
  if (env.GROUP_SIZE >= 2) api.createConversations(chunk(users, env.GROUP_SIZE));
  return { users: users.map((u) => ({ id: u.id, token: u.token, refreshToken: u.refreshToken })), t0: Date.now() + 1_000 };
}

/** @param {{ users: import("../lib/api.js").UserToken[], t0: number }} data from `setup()` */
export default async function (data) {
  touch(disconnects, socketsHeld);
  const vu = exec.vu.idInTest - 1;
  const holdEnd = data.t0 + env.RAMP + env.HOLD;
  const members = [];
  const started = [];
  for (let g = vu; g < env.SOCKETS; g += vus) {
    const member = new ChatMember(/** @type {import("../lib/api.js").UserToken} */ (data.users[g % data.users.length]), [], {
      socketUrl: env.SOCKET_URL,
      apiUrl: env.API_URL,
      connectTimeoutMs: env.CONNECT_TIMEOUT_MS,
      ackTimeoutMs: 10_000,
      gapGraceMs: 1_000,
    });
    members.push(member);
    started.push(sleep(data.t0 + (env.RAMP * g) / env.SOCKETS - Date.now()).then(() => member.start()));
  }
  const ok = (await Promise.all(started)).filter(Boolean).length;
  if (ok < members.length) console.warn(`VU ${vu + 1}: ${members.length - ok} of ${members.length} sockets failed to connect`);
  await sleep(holdEnd - Date.now());
  socketsHeld.add(members.filter((m) => m.ready).length);
  for (const member of members) member.close();
}
