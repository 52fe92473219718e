/**
 * Bench-only k6 script of the connection-capacity run (`npm run bench`): connects one socket per token
 * of TOKENS_FILE (a JSON array written by scripts/bench/capacity.ts), spread evenly over RAMP, waits
 * for each `session:ready`, holds them all until RAMP + HOLD, then closes them. Built on the load
 * tests' Socket.IO client (load-tests/lib/socketio.js); the scenarios proper live in load-tests/.
 *
 * Environment: SOCKET_URL, TOKENS_FILE, RAMP (ms), HOLD (ms), VUS, CONNECT_TIMEOUT_MS (30000).
 * Metrics: sockets_ready (Counter), connect_errors (Counter), connect_time (Trend), disconnects (Counter).
 */
import { SharedArray } from "k6/data";
import exec from "k6/execution";
import { Counter, Trend } from "k6/metrics";
import { clearTimeout, setTimeout } from "k6/timers";

import { handshakeAuth } from "../../load-tests/lib/protocol.js";
import { SocketIoClient } from "../../load-tests/lib/socketio.js";

const SOCKET_URL = __ENV.SOCKET_URL;
const RAMP = Number(__ENV.RAMP || 60_000);
const HOLD = Number(__ENV.HOLD || 60_000);
const VUS = Number(__ENV.VUS || 20);
const CONNECT_TIMEOUT_MS = Number(__ENV.CONNECT_TIMEOUT_MS || 30_000);

const tokens = new SharedArray("tokens", () => JSON.parse(open(__ENV.TOKENS_FILE)));

const ready = new Counter("sockets_ready");
const connectErrors = new Counter("connect_errors");
const connectTime = new Trend("connect_time", true);
const disconnects = new Counter("disconnects");

export const options = {
  scenarios: {
    hold: {
      executor: "per-vu-iterations",
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil((RAMP + HOLD) / 1000) + 120}s`,
      gracefulStop: "30s",
    },
  },
  setupTimeout: "60s",
  summaryTrendStats: ["avg", "min", "med", "p(95)", "p(99)", "max"],
};

export function setup() {
  return { t0: Date.now() + 1_000 };
}

/** Set when this VU closes its sockets on purpose: those closes are not disconnects. */
let closing = false;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export default async function ({ t0 }) {
  const vu = exec.vu.idInTest - 1;
  const clients = [];
  const connects = [];
  for (let i = vu; i < tokens.length; i += VUS) {
    connects.push(
      sleep(t0 + (RAMP * i) / tokens.length - Date.now()).then(() => {
        const started = Date.now();
        const client = new SocketIoClient(SOCKET_URL, { auth: handshakeAuth(tokens[i]), connectTimeoutMs: CONNECT_TIMEOUT_MS });
        clients.push(client);
        return new Promise((resolve) => {
          let settled = false;
          const timer = setTimeout(() => finish(false), CONNECT_TIMEOUT_MS);
          function finish(ok) {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (ok) {
              ready.add(1);
              connectTime.add(Date.now() - started);
              client.on("disconnect", () => {
                if (!closing) disconnects.add(1);
              });
            } else connectErrors.add(1);
            resolve();
          }
          client.on("session:ready", () => finish(true));
          client.connect().catch(() => finish(false));
        });
      }),
    );
  }
  await Promise.all(connects);
  await sleep(t0 + RAMP + HOLD - Date.now());
  closing = true;
  for (const client of clients) client.close();
}
