/**
 * The scenarios' custom metrics, one definition each (k6 creates metrics in the init context, and a
 * module's top level is init context). Their names are read by `npm run bench` from k6's
 * `--summary-export` JSON: rename nothing. Times are in milliseconds.
 */
import { Counter, Rate, Trend } from "k6/metrics";

// Messages (chat, fanout, reconnect, soak).
/** From the send time written in a message's content to the arrival of its `message:new`, per receiver. */
export const deliveryLatency = new Trend("delivery_latency", true);
/** From `message:send` to its ack, per sender. */
export const ackLatency = new Trend("ack_latency", true);
/** Sends acknowledged `{ ok: true }`. */
export const messagesSent = new Counter("messages_sent");
/** `message:new` events received. */
export const messagesDelivered = new Counter("messages_delivered");
/** Per send: true when it failed (error ack, ack timeout, connection lost without a successful retry). */
export const sendErrors = new Rate("send_errors");
/** Seqs a receiver saw missing and that `sync` could not supply either: lost messages. */
export const missed = new Counter("missed");
/** Messages a receiver did not get live but obtained through `sync` (after a gap or a reconnect). */
export const recovered = new Counter("recovered");
/** Two messages with different ids for one sender's clientMsgId: a retried send stored twice. */
export const duplicates = new Counter("duplicates");
/** Sends retried with the same clientMsgId after their connection was lost before the ack. */
export const sendRetries = new Counter("send_retries");
/** `sync` requests that failed or timed out. */
export const syncErrors = new Counter("sync_errors");

// Connections (every socket scenario).
/** From opening the WebSocket to `session:ready` (rooms joined, ready to receive). */
export const connectTime = new Trend("connect_time", true);
/** Per first connection attempt: true when it did not reach `session:ready`. */
export const connectFailures = new Rate("connect_failures");
/** Connections lost that the scenario did not close on purpose. */
export const disconnects = new Counter("disconnects");
/** connect: sockets still connected at the end of the hold. */
export const socketsHeld = new Counter("sockets_held");
/** Access tokens renewed on a live socket (`session:expiring` → REST refresh → `auth:refresh` acked). */
export const sessionRefreshes = new Counter("session_refreshes");
/** Renewals that failed: the socket is cut when its token expires, and counts in `disconnects`. */
export const sessionRefreshFailures = new Counter("session_refresh_failures");

// Reconnect.
/** Sockets dropped on purpose and connected again. */
export const reconnects = new Counter("reconnects");
/** From a reconnect's start to `session:ready`. */
export const reconnectTime = new Trend("reconnect_time", true);
/** Per reconnect: true when it did not reach `session:ready`. */
export const reconnectFailures = new Rate("reconnect_failures");

// Soak.
/** Per VU: p95 of delivery latency over the last tenth of the run minus that of the first tenth. */
export const latencyDrift = new Trend("latency_drift", true);

// History.
/** One `GET /api/conversations/:id/messages` page. */
export const historyPageLatency = new Trend("history_page_latency", true);
/** Per page: true for a non-200 answer, or a page out of order, with a gap, or not ending at seq 1. */
export const historyErrors = new Rate("history_errors");
/** Pages read. */
export const historyPages = new Counter("history_pages");

/** Summary statistics of every Trend: the bench reads p(50), p(95) and p(99). */
export const SUMMARY_TREND_STATS = ["avg", "min", "med", "p(50)", "p(90)", "p(95)", "p(99)", "max", "count"];

/**
 * Makes counters appear in the summary (at 0) even when nothing was counted.
 *
 * @param {...Counter} counters
 */
export function touch(...counters) {
  for (const counter of counters) counter.add(0);
}
