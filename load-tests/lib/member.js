/**
 * One chat member as a load-test client: a Socket.IO connection with parley's session, sends stamped
 * with their send time, and a {@link SeqTracker} per conversation that fills gaps with `sync` the way
 * docs/protocol.md asks clients to ("Recovering missed messages").
 */
import {
  ackLatency,
  connectFailures,
  connectTime,
  deliveryLatency,
  disconnects,
  duplicates,
  messagesDelivered,
  messagesSent,
  missed,
  reconnectFailures,
  reconnectTime,
  reconnects,
  recovered,
  sendErrors,
  sendRetries,
  sessionRefreshes,
  sessionRefreshFailures,
  syncErrors,
} from "./metrics.js";
import http from "k6/http";

import { handshakeAuth } from "./protocol.js";
import { SeqTracker } from "./seq-tracker.js";
import { SocketIoClient } from "./socketio.js";

/** @typedef {import("@parley/protocol").Message} Message */
/** @typedef {import("./socketio.js").SocketIoError} SocketIoError */

/**
 * Options of a {@link ChatMember}.
 *
 * @typedef {object} MemberOptions
 * @property {string} socketUrl
 * @property {string} [apiUrl] where `POST /api/auth/refresh` is; without it (or a refresh token) the
 *   socket is cut when its access token expires
 * @property {number} connectTimeoutMs to `session:ready`
 * @property {number} ackTimeoutMs of `message:send` and `sync`
 * @property {number} gapGraceMs how long a hole may wait for a late message before `sync`
 * @property {number} [messageBytes] pad contents to this many characters
 * @property {boolean} [retryLostSends] resend, after reconnecting, sends whose ack a lost connection
 *   swallowed (same clientMsgId); else they are errors
 * @property {boolean} [checkDuplicates] detect a clientMsgId stored twice
 * @property {(sentAt: number) => Record<string, string> | undefined} [tagsOf] tags of a delivery sample
 * @property {(latency: number, sentAt: number) => void} [onDelivery]
 */

/** Most messages one `sync` returns (the server's maximum). */
const SYNC_LIMIT = 500;

/** Logs the first few problems of each kind per VU, then stays quiet. */
/** @type {Map<string, number>} */
const logged = new Map();
/**
 * Logs `message` unless this VU has logged three problems of this `kind` already.
 *
 * @param {string} kind
 * @param {string} message
 */
export function logOnce(kind, message) {
  const n = (logged.get(kind) ?? 0) + 1;
  logged.set(kind, n);
  if (n <= 3) console.warn(`${kind}: ${message}${n === 3 ? " (further ones not logged)" : ""}`);
}

/** One user's socket in a load test; see the module comment. */
export class ChatMember {
  /**
   * @param {import("./api.js").UserToken} user `{ id, token, refreshToken? }`: the access token, and
   *   the refresh token the member renews it with when the server says it expires soon (shared by
   *   members of one user)
   * @param {string[]} conversationIds conversations tracked (the user's, or those the test cares about)
   * @param {MemberOptions} options
   */
  constructor(user, conversationIds, options) {
    this.user = user;
    this.options = options;
    this.trackers = new Map(conversationIds.map((id) => [id, new SeqTracker(id, options.checkDuplicates)]));
    this.client = new SocketIoClient(options.socketUrl, {
      auth: handshakeAuth(user.token),
      connectTimeoutMs: options.connectTimeoutMs,
      // Lost without being asked to: come back like a real client, and recover with sync.
      reconnection: { delayMs: 500, maxDelayMs: 5_000 },
    });
    this.ready = false;
    this.sessions = 0;
    this.sent = 0;
    /** @type {Array<{ payload: import("./socketio-types.js").EventPayload<"message:send"> }>} */
    this.lostSends = [];
    this.intentional = false;
    this.closing = false;
    /** finish() has begun: no more grace periods. */
    this.finishing = false;
    /** @type {{ resolve: () => void } | undefined} */
    this.readyWaiter = undefined;

    /** @type {Promise<void> | undefined} */
    this.refreshing = undefined;

    this.client.on("session:ready", () => this.onReady());
    this.client.on("session:expiring", () => this.refreshSession());
    this.client.on("message:new", (message) => this.onMessage(message));
    this.client.on("disconnect", (reason) => {
      this.ready = false;
      if (!this.intentional && !this.closing) {
        disconnects.add(1);
        logOnce("disconnect", `user ${user.id} lost its connection: ${reason}`);
      }
      this.intentional = false;
    });
    this.client.on("error", (error) => logOnce(`error ${error && error.code}`, JSON.stringify(error)));
  }

  /**
   * What a real client does on `session:expiring`: refreshes over REST, hands the new access token to
   * the live socket (`auth:refresh`), and keeps it for reconnections. Members of one user share the
   * user object, so they share its newest tokens; two that refresh with the same refresh token at once
   * get the same new ones (the server's reuse grace).
   */
  async refreshSession() {
    const { apiUrl, ackTimeoutMs } = this.options;
    if (!apiUrl || !this.user.refreshToken || this.refreshing) return;
    this.refreshing = (async () => {
      // The refresh token was there when this started (see above).
      const body = /** @satisfies {import("./api.js").RouteBody<"auth.refresh">} */ ({ refreshToken: /** @type {string} */ (this.user.refreshToken) });
      const res = await http.asyncRequest("POST", `${apiUrl.replace(/\/+$/, "")}/api/auth/refresh`, JSON.stringify(body), {
        headers: { "content-type": "application/json" },
        tags: { name: "POST /api/auth/refresh" },
        responseCallback: http.expectedStatuses(200),
      });
      if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${String(res.body).slice(0, 200)}`);
      const { accessToken, refreshToken } = /** @type {import("./api.js").RouteOutput<"auth.refresh">} */ (res.json());
      this.user.token = accessToken;
      this.user.refreshToken = refreshToken;
      this.client.options.auth = handshakeAuth(accessToken);
      // Closed meanwhile (the run ends, or a drop): a reconnection uses the new token.
      if (!this.client.connected) return;
      const ack = await this.client.emitWithAck("auth:refresh", { token: accessToken }, ackTimeoutMs);
      if (!ack.ok) throw new Error(`auth:refresh refused: ${JSON.stringify(ack.error)}`);
      sessionRefreshes.add(1);
    })()
      .catch((err) => {
        sessionRefreshFailures.add(1);
        logOnce("refresh", `user ${this.user.id}: ${err.message}`);
      })
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  /** First connection: records `connect_time` or a `connect_failures`; resolves either way with success. */
  async start() {
    const started = Date.now();
    try {
      await this.connectOnce();
      connectTime.add(/** @type {number} */ (this.readyAt) - started);
      connectFailures.add(false);
      return true;
    } catch (err) {
      const error = /** @type {Error & { code?: string }} */ (err);
      connectFailures.add(true);
      logOnce(`connect ${error.code ?? "error"}`, error.message);
      return false;
    }
  }

  /**
   * Opens a connection and waits for `session:ready`; rejects with the error's `code`.
   *
   * @returns {Promise<void>}
   */
  connectOnce() {
    return new Promise((resolve, reject) => {
      let done = false;
      /** @param {Error} [err] */
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (this.readyWaiter === waiter) this.readyWaiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        // Which step never came: the Socket.IO connect (`40`), or the session after it.
        const step = this.client.connected ? `connected as ${this.client.socketId}, no session:ready` : "no Socket.IO connect";
        finish(Object.assign(new Error(`user ${this.user.id}: ${step} within ${this.options.connectTimeoutMs} ms`), { code: "TIMEOUT" }));
      }, this.options.connectTimeoutMs);
      const waiter = { resolve: () => finish() };
      this.readyWaiter = waiter;
      this.client.connect().catch(finish);
    });
  }

  /**
   * Drops the connection as a network loss would, and connects again after `delayMs`: records
   * `reconnects`, `reconnect_time` and `reconnect_failures`. Recovery (sync, resent sends) follows
   * the new `session:ready`.
   *
   * @param {number} delayMs
   * @param {number} until no new attempt after this time (ms since the epoch)
   */
  reconnect(delayMs, until) {
    if (!this.ready || this.closing) return;
    this.intentional = true;
    this.ready = false;
    this.client.drop(false);
    const attempt = () => {
      if (this.closing) return;
      const started = Date.now();
      this.connectOnce().then(
        () => {
          reconnects.add(1);
          reconnectTime.add(/** @type {number} */ (this.readyAt) - started);
          reconnectFailures.add(false);
        },
        (/** @type {Error & { code?: string }} */ err) => {
          reconnectFailures.add(true);
          logOnce(`reconnect ${err.code ?? "error"}`, err.message);
          if (Date.now() < until) setTimeout(attempt, 1_000);
        },
      );
    };
    setTimeout(attempt, delayMs);
  }

  /** `session:ready`: the first session, or one after a lost connection. */
  onReady() {
    this.ready = true;
    /** When the last `session:ready` was read (ms). */
    this.readyAt = this.client.receivedAt;
    this.sessions++;
    if (this.readyWaiter) this.readyWaiter.resolve();
    if (this.sessions > 1) {
      // Back after a lost connection: fetch what happened meanwhile, then resend what was cut off.
      for (const tracker of this.trackers.values()) this.fill(tracker);
      const lost = this.lostSends;
      this.lostSends = [];
      for (const send of lost) {
        sendRetries.add(1);
        this.emitSend(send.payload);
      }
    }
  }

  /**
   * `message:new`: measures the delivery delay and holds the message.
   *
   * @param {Message} message
   */
  onMessage(message) {
    const tracker = this.trackers.get(message.conversationId);
    if (!tracker) return;
    const receivedAt = this.client.receivedAt;
    messagesDelivered.add(1);
    const sentAt = parseInt(message.content, 10);
    if (sentAt > 1e12) {
      const latency = receivedAt - sentAt;
      deliveryLatency.add(latency, this.options.tagsOf && this.options.tagsOf(sentAt));
      if (this.options.onDelivery) this.options.onDelivery(latency, sentAt);
    }
    this.hold(tracker, message, false);
  }

  /**
   * Records a message held (live, acked or synced); a hole starts its grace period.
   *
   * @param {SeqTracker} tracker
   * @param {Message} message
   * @param {boolean} viaSync
   */
  hold(tracker, message, viaSync) {
    if (tracker.isDuplicate(message)) {
      duplicates.add(1);
      logOnce("duplicate", `clientMsgId ${message.clientMsgId} of ${message.senderId} stored twice (seq ${message.seq})`);
    }
    const added = tracker.add(message.seq);
    if (added && viaSync) recovered.add(1);
    // A hole seen while a sync's answer is applied is judged by fill when that sync ends.
    if (!viaSync) this.watchGap(tracker);
  }

  /**
   * Starts the grace period of a hole in `tracker`'s seqs, at whose end `sync` is asked for it; stops
   * the one running when no hole is left.
   *
   * @param {SeqTracker} tracker
   */
  watchGap(tracker) {
    if (!tracker.hasGap) {
      clearTimeout(tracker.gapTimer);
      tracker.gapTimer = undefined;
      return;
    }
    // The final syncs of finish() look at every hole left.
    if (tracker.gapTimer || this.finishing) return;
    tracker.gapTimer = setTimeout(() => {
      tracker.gapTimer = undefined;
      if (tracker.hasGap) this.fill(tracker);
    }, this.options.gapGraceMs);
  }

  /**
   * Sends one message, stamped with its send time, to `conversationId`. False when not connected.
   *
   * @param {string} conversationId
   * @returns {boolean}
   */
  send(conversationId) {
    if (!this.ready) return false;
    const clientMsgId = `m${this.sent++}`;
    let content = `${Date.now()} ${clientMsgId}`;
    const pad = (this.options.messageBytes ?? 0) - content.length;
    if (pad > 1) content += ` ${"x".repeat(pad - 1)}`;
    this.emitSend({ conversationId, clientMsgId, content });
    return true;
  }

  /**
   * Sends `message:send` and records its ack (or failure); a send cut by a lost connection is kept
   * for a resend when `retryLostSends` is set.
   *
   * @param {import("./socketio-types.js").EventPayload<"message:send">} payload
   */
  emitSend(payload) {
    /** @type {import("./socketio-types.js").AckTiming} */
    const timing = {};
    this.client.emitWithAck("message:send", payload, this.options.ackTimeoutMs, timing).then(
      (res) => {
        if (res && res.ok) {
          messagesSent.add(1);
          sendErrors.add(false);
          // Both are set once the ack arrived.
          ackLatency.add(/** @type {number} */ (timing.ackAt) - /** @type {number} */ (timing.sentAt));
          const tracker = this.trackers.get(payload.conversationId);
          if (tracker) this.hold(tracker, res.message, false);
        } else {
          sendErrors.add(true);
          logOnce(`send ${res && res.error ? res.error.code : "?"}`, JSON.stringify(res));
        }
      },
      (/** @type {SocketIoError} */ err) => {
        if (err.code === "DISCONNECTED" && this.options.retryLostSends && !this.closing) {
          this.lostSends.push({ payload });
          return;
        }
        sendErrors.add(true);
        logOnce(`send ${err.code}`, err.message);
      },
    );
  }

  /**
   * Asks `sync` for everything after the tracker's `last`, page by page; messages not held yet count
   * as `recovered`, and seqs that the answer had to hold but did not as `missed`.
   *
   * An answer holds every seq the server had allocated when it read the conversation, and every seq
   * this receiver held when it sent the request was allocated by then (the server allocates a seq and
   * stores the message in one step, before anyone gets it), as was every seq below one the answer
   * returns. A message that arrives during the sync may be newer than that read: gateways publish in
   * the order their sends finish, so seq N + 2 can come before N + 1, and before the answer that ends
   * at N. Such a hole is no loss yet; it gets a grace period of its own, and then a sync sent after it
   * was seen.
   *
   * @param {SeqTracker} tracker
   */
  async fill(tracker) {
    if (tracker.syncing || !this.ready) return;
    tracker.syncing = true;
    try {
      let after = tracker.last;
      /** The highest seq that the answers had to hold if the server still has it. */
      let covered = 0;
      for (let page = 0; page < 1_000; page++) {
        /** @type {import("./socketio-types.js").EventPayload<"sync">} */
        const request = { conversationId: tracker.conversationId, afterSeq: after, limit: SYNC_LIMIT };
        if (tracker.epoch !== undefined) request.epoch = tracker.epoch;
        covered = Math.max(covered, tracker.max);
        const res = await this.client.emitWithAck("sync", request, this.options.ackTimeoutMs);
        if (!res || !res.ok) {
          syncErrors.add(1);
          logOnce(`sync ${res && res.error ? res.error.code : "?"}`, JSON.stringify(res));
          return;
        }
        tracker.epoch = res.epoch;
        for (const message of res.messages) {
          this.hold(tracker, message, true);
          covered = Math.max(covered, message.seq);
        }
        if (!res.hasMore || res.messages.length === 0) break;
        after = /** @type {Message} */ (res.messages[res.messages.length - 1]).seq;
      }
      const lost = tracker.skipTo(covered);
      if (lost > 0) {
        missed.add(lost);
        logOnce("missed", `conversation ${tracker.conversationId}: ${lost} message(s) missing up to seq ${covered}`);
      }
    } catch (err) {
      const error = /** @type {SocketIoError} */ (err);
      // A sync cut by a lost connection is done again after the reconnect; anything else is an error.
      if (error.code !== "DISCONNECTED") {
        syncErrors.add(1);
        logOnce(`sync ${error.code}`, error.message);
      }
    } finally {
      tracker.syncing = false;
      // A hole the sync did not settle: newer than its read, or the sync failed.
      this.watchGap(tracker);
    }
  }

  /**
   * End of the run: a last `sync` of every conversation, which also finds messages lost at the tail,
   * and another while a message that arrived during it left a hole.
   */
  async finish() {
    this.finishing = true;
    for (const tracker of this.trackers.values()) {
      clearTimeout(tracker.gapTimer);
      tracker.gapTimer = undefined;
    }
    for (const _ of this.lostSends) sendErrors.add(true);
    this.lostSends = [];
    if (!this.ready) return;
    for (const tracker of this.trackers.values()) {
      // A sync may be running (a gap found just before the end): wait for it, then sync once more.
      for (let i = 0; tracker.syncing && i < 100; i++) await sleep(100);
      for (let i = 0; i < 3; i++) {
        await this.fill(tracker);
        if (!tracker.hasGap || !this.ready) break;
      }
    }
  }

  /** Closes the socket for good. */
  close() {
    this.closing = true;
    this.ready = false;
    this.client.close();
  }
}

/**
 * Resolves after `ms` milliseconds (at once for `ms` ≤ 0).
 *
 * @param {number} ms
 * @returns {Promise<void>}
 */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
