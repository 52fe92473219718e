/**
 * parley's REST API for the scenarios' `setup()`: users, conversations, messages, history. Requests go
 * in parallel batches (`http.batch`): registration hashes a password with scrypt (~50 ms of CPU), so a
 * thousand users take tens of seconds one by one.
 *
 * Everything here throws on an unexpected answer: a setup that cannot build its world must stop the
 * run, not measure an empty one.
 */
import http from "k6/http";
import { sleep } from "k6";

/** @typedef {import("@parley/protocol").RouteName} RouteName */
/**
 * The JSON body of route `N` (`routes` of `@parley/protocol`).
 *
 * @template {RouteName} N
 * @typedef {import("@parley/protocol").RouteInput<N> extends { body: infer B } ? B : never} RouteBody
 */
/**
 * The query of route `N`.
 *
 * @template {RouteName} N
 * @typedef {import("@parley/protocol").RouteInput<N> extends { query?: infer Q } ? NonNullable<Q> : never} RouteQuery
 */
/**
 * What route `N` answers on success.
 *
 * @template {RouteName} N
 * @typedef {import("@parley/protocol").RouteOutput<N>} RouteOutput
 */
/** @typedef {import("k6/http").RefinedResponse<import("k6/http").ResponseType | undefined>} Response */
/** @typedef {import("k6/http").ObjectBatchRequest} Request */

/**
 * A user registered by {@link Api.registerUsers}; `token` is the access token.
 *
 * @typedef {object} LoadUser
 * @property {string} id
 * @property {string} username
 * @property {string} token
 * @property {string} refreshToken
 */
/**
 * A user as the scenarios hand it around: its id and access token (and, to renew it, its refresh token).
 *
 * @typedef {object} UserToken
 * @property {string} id
 * @property {string} token
 * @property {string} [refreshToken]
 */

const JSON_HEADERS = { "content-type": "application/json" };
/**
 * Requests in flight at once in a batch. An API process hashes PASSWORD_HASH_CONCURRENCY passwords at
 * once and queues PASSWORD_HASH_QUEUE more (2 and 16 by default), refusing the excess with 503: 8 fit.
 */
const DEFAULT_PARALLEL = 8;
const PASSWORD = "load-test-password";

/**
 * @param {string | undefined} token
 * @param {string} name the route, as a tag
 * @returns {import("k6/http").Params}
 */
function params(token, name) {
  return {
    headers: token ? { ...JSON_HEADERS, authorization: `Bearer ${token}` } : JSON_HEADERS,
    // One metric series per route, not per id.
    tags: { name },
    timeout: "60s",
  };
}

/** @param {Response} res */
function describe(res) {
  return `${res.request ? `${res.request.method} ${res.request.url}` : ""} → ${res.status} ${String(res.body).slice(0, 200)}`;
}

/** A short id for this run, so that usernames never collide with an earlier run's. */
export function runId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
}

/**
 * Sends requests in batches of `parallel`, retrying each answer of 429 (after its `retryAfterMs`),
 * 502, 503 or a network error up to `attempts` times. Returns the final responses, in order.
 *
 * @param {Request[]} requests
 * @param {{ parallel?: number, attempts?: number }} [options]
 * @returns {Response[]}
 */
export function batch(requests, { parallel = DEFAULT_PARALLEL, attempts = 8 } = {}) {
  /** @type {Response[]} */
  const responses = new Array(requests.length);
  let todo = requests.map((_, i) => i);
  for (let attempt = 1; todo.length > 0; attempt++) {
    /** @type {number[]} */
    const retry = [];
    let waitMs = 0;
    for (let i = 0; i < todo.length; i += parallel) {
      const slice = todo.slice(i, i + parallel);
      const answers = http.batch(slice.map((index) => /** @type {Request} */ (requests[index])));
      answers.forEach((res, k) => {
        responses[/** @type {number} */ (slice[k])] = res;
        const transient = res.status === 0 || res.status === 429 || res.status === 502 || res.status === 503;
        if (transient && attempt < attempts) {
          retry.push(/** @type {number} */ (slice[k]));
          if (res.status === 429) {
            const body = /** @type {import("@parley/protocol").ErrorBody | undefined} */ (safeJson(res));
            waitMs = Math.max(waitMs, (body && body.error && body.error.retryAfterMs) || 1000);
          } else waitMs = Math.max(waitMs, 250 * attempt);
        }
      });
    }
    todo = retry;
    if (todo.length > 0) sleep(Math.min(waitMs, 10_000) / 1000);
  }
  return responses;
}

/**
 * @param {Response} res
 * @returns {unknown} the parsed body, or undefined when it is not JSON
 */
function safeJson(res) {
  try {
    return res.json();
  } catch {
    return undefined;
  }
}

/**
 * The parsed body of `res` when its status is one of `statuses`; callers cast it to the route's answer.
 *
 * @param {Response} res
 * @param {...number} statuses
 * @returns {unknown}
 */
function expectStatus(res, ...statuses) {
  if (!statuses.includes(res.status)) throw new Error(`unexpected answer: ${describe(res)}`);
  return res.json();
}

/** A client of one parley API (`http://host:port`, with or without a trailing slash). */
export class Api {
  /**
   * @param {string} baseUrl
   * @param {{ parallel?: number }} [options] `parallel`: requests in flight at once in a batch
   */
  constructor(baseUrl, options = {}) {
    this.base = baseUrl.replace(/\/+$/, "");
    this.parallel = options.parallel ?? DEFAULT_PARALLEL;
  }

  /** Fails early and clearly when nothing (or something not ready) answers. */
  ready() {
    const res = http.get(`${this.base}/readyz`, { tags: { name: "readyz" }, timeout: "10s" });
    if (res.status !== 200) throw new Error(`${this.base}/readyz is not ready: ${describe(res)}`);
  }

  /**
   * Registers `count` fresh users named `<prefix>_<i>`; returns `[{ id, username, token, refreshToken }]`
   * (`token` is the access token).
   *
   * @param {number} count
   * @param {string} [prefix]
   * @returns {LoadUser[]}
   */
  registerUsers(count, prefix = `k6${runId()}`) {
    const requests = [];
    for (let i = 0; i < count; i++) {
      requests.push({
        method: "POST",
        url: `${this.base}/api/auth/register`,
        body: JSON.stringify(/** @satisfies {RouteBody<"auth.register">} */ ({ username: `${prefix}_${i}`, password: PASSWORD })),
        params: params(undefined, "POST /api/auth/register"),
      });
    }
    return batch(requests, { parallel: this.parallel }).map((res) => {
      if (res.status === 429) {
        throw new Error(
          `registration refused by the target's per-address limit: start it with RATE_LIMIT_REGISTER_RATE and RATE_LIMIT_REGISTER_BURST ` +
            `raised (npm run bench and the test clusters do; for npm start see README.md, "Load tests"): ${describe(res)}`,
        );
      }
      const { user, accessToken, refreshToken } = /** @type {RouteOutput<"auth.register">} */ (expectStatus(res, 201));
      return { id: user.id, username: user.username, token: accessToken, refreshToken };
    });
  }

  /**
   * Creates conversations, one per entry of `groups` (arrays of users, the first one the creator): a
   * direct conversation for two users, else a group named `name(i)`. Returns their ids, in order.
   *
   * @param {UserToken[][]} groups each of two users or more
   * @param {(i: number) => string} [name]
   * @returns {string[]}
   */
  createConversations(groups, name = (i) => `load ${i}`) {
    const requests = groups.map((members, i) => {
      const [creator, ...others] = /** @type {[UserToken, UserToken, ...UserToken[]]} */ (members);
      /** @type {RouteBody<"conversations.create">} */
      const body =
        members.length === 2
          ? { type: "direct", userId: others[0].id }
          : { type: "group", name: name(i), memberIds: others.map((u) => u.id) };
      return {
        method: "POST",
        url: `${this.base}/api/conversations`,
        body: JSON.stringify(body),
        params: params(creator.token, "POST /api/conversations"),
      };
    });
    return batch(requests, { parallel: this.parallel }).map(
      (res) => /** @type {RouteOutput<"conversations.create">} */ (expectStatus(res, 200, 201)).conversation.id,
    );
  }

  /**
   * Posts messages through REST: `[{ token, conversationId, clientMsgId, content }]`. Retries 429s,
   * so this works with the default rate limits (10/s per user, bursts of 50), only slower.
   * Returns the stored messages.
   *
   * @param {Array<{ token: string, conversationId: string, clientMsgId: string, content: string }>} messages
   * @returns {import("@parley/protocol").Message[]}
   */
  postMessages(messages) {
    const requests = messages.map(({ token, conversationId, clientMsgId, content }) => ({
      method: "POST",
      url: `${this.base}/api/conversations/${conversationId}/messages`,
      body: JSON.stringify(/** @satisfies {RouteBody<"messages.post">} */ ({ clientMsgId, content })),
      params: params(token, "POST /api/conversations/:id/messages"),
    }));
    return batch(requests, { parallel: this.parallel, attempts: 30 }).map(
      (res) => /** @type {RouteOutput<"messages.post">} */ (expectStatus(res, 200, 201)).message,
    );
  }

  /**
   * `GET /api/conversations/:id`: the caller's view, with `lastSeq` (the newest persisted seq).
   *
   * @param {string} token
   * @param {string} conversationId
   * @returns {import("@parley/protocol").ConversationView}
   */
  conversation(token, conversationId) {
    const res = http.get(`${this.base}/api/conversations/${conversationId}`, params(token, "GET /api/conversations/:id"));
    return /** @type {RouteOutput<"conversations.get">} */ (expectStatus(res, 200)).conversation;
  }

  /**
   * Waits until the worker has persisted every conversation up to the given seq.
   *
   * @param {(conversationId: string) => string} token the access token to read a conversation with
   * @param {Array<{ conversationId: string, seq: number }>} targets
   * @param {number} [timeoutMs]
   */
  waitPersisted(token, targets, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (const { conversationId, seq } of targets) {
      for (;;) {
        const { lastSeq } = this.conversation(token(conversationId), conversationId);
        if (lastSeq >= seq) break;
        if (Date.now() > deadline) throw new Error(`conversation ${conversationId}: persisted up to ${lastSeq} of ${seq} after ${timeoutMs} ms`);
        sleep(0.5);
      }
    }
  }

  /**
   * One page of history: `GET /api/conversations/:id/messages?before=&limit=`. Returns the raw k6
   * response (the scenario measures it); the body is `{ messages, nextBefore }`
   * (`RouteOutput<"messages.history">`).
   *
   * @param {string} token
   * @param {string} conversationId
   * @param {{ before?: RouteQuery<"messages.history">["before"] | null, limit?: RouteQuery<"messages.history">["limit"] }} [page]
   * @returns {Response}
   */
  historyPage(token, conversationId, { before, limit } = {}) {
    const query = [];
    if (before !== undefined && before !== null) query.push(`before=${before}`);
    if (limit !== undefined) query.push(`limit=${limit}`);
    const url = `${this.base}/api/conversations/${conversationId}/messages${query.length ? `?${query.join("&")}` : ""}`;
    return http.get(url, params(token, "GET /api/conversations/:id/messages"));
  }
}

/**
 * Splits `users` into consecutive groups of `size` (the last one may be smaller; one user: dropped).
 *
 * @template T
 * @param {T[]} users
 * @param {number} size
 * @returns {T[][]}
 */
export function chunk(users, size) {
  const groups = [];
  for (let i = 0; i < users.length; i += size) {
    const group = users.slice(i, i + size);
    if (group.length >= 2) groups.push(group);
  }
  return groups;
}
