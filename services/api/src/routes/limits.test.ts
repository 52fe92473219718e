/**
 * The REST abuse controls on a real API (its own redis-server and database): logins per address and
 * username, per address and per username with the owner's known addresses exempt; registrations per
 * address; searches and conversation creations per user; the password hasher's bound.
 *
 * The harness's app sets up users with the one-address limits raised; each test runs an app of its own
 * (`startVariant`, same Redis and database) with the **default bursts** and refills slowed to one token
 * a day, so that what a test counts is the burst, however long the test takes. Clients at other
 * addresses are the harness's loopback client sending `X-Forwarded-For`, which the API trusts from a
 * loopback proxy (`TRUST_PROXY=loopback`), as it does from the local nginx.
 */
import { Types } from "mongoose";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { loadConfig } from "@parley/shared/config";
import { Registry } from "@parley/shared/metrics";
import { rateLimitConfigShape } from "@parley/shared/rate-limit";

import { uniqueSuffix } from "../../../../test/helpers/env.js";
import type { ApiConfig } from "../config.js";
import { ApiMetrics } from "../metrics.js";
import { useApi, type TestResponse, type TestUser } from "../testing/api-harness.js";

const api = useApi("limits");
const PASSWORD = "correct horse battery";
/** The shipped rate-limit settings. */
const DEFAULTS = loadConfig(z.object(rateLimitConfigShape), {});
const SLOW = 1 / 86_400;

/** An app on the harness's connections with the default limits, refills slowed, and `overrides`. */
async function appWithDefaults(overrides: Partial<ApiConfig> = {}, registry?: Registry): Promise<string> {
  const rates = Object.fromEntries(Object.keys(DEFAULTS).filter((k) => k.endsWith("_RATE")).map((k) => [k, SLOW]));
  const config: ApiConfig = { ...api.config, ...DEFAULTS, ...rates, ...overrides };
  const { baseUrl } = await api.startVariant({ config, ...(registry ? { metrics: new ApiMetrics(registry) } : {}) });
  return baseUrl;
}

let addresses = 0;
/** A client address no other test uses (TEST-NET-2, then TEST-NET-3). */
function freshAddress(): string {
  addresses += 1;
  return `${addresses < 250 ? "198.51.100" : "203.0.113"}.${addresses % 250}`;
}

function login(base: string, username: string, password: string, address: string): Promise<TestResponse> {
  return api.request("POST", `${base}/api/auth/login`, { body: { username, password }, headers: { "x-forwarded-for": address } });
}

function expectRateLimited(res: TestResponse): void {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ error: { code: "RATE_LIMITED", retryAfterMs: expect.any(Number) } });
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

const statuses = (responses: TestResponse[]) => responses.map((r) => r.status);
const count = (responses: TestResponse[], status: number) => responses.filter((r) => r.status === status).length;

describe("login limits", () => {
  it("refuses a spray of usernames from one address after the address burst, and serves a real user meanwhile", async () => {
    const base = await appWithDefaults();
    const owner = await api.registerUser("sprayed");
    const sprayer = freshAddress();
    const spray = Array.from({ length: 20 }, () => login(base, `nobody_${uniqueSuffix()}`, "guess", sprayer));
    const real = login(base, owner.username, PASSWORD, freshAddress());

    const sprayed = await Promise.all(spray);
    // Only the burst reaches the user lookup and a password check; the rest are refused before either.
    expect(count(sprayed, 401)).toBe(DEFAULTS.RATE_LIMIT_LOGIN_ADDRESS_BURST);
    expect(count(sprayed, 429)).toBe(20 - DEFAULTS.RATE_LIMIT_LOGIN_ADDRESS_BURST);
    for (const res of sprayed.filter((r) => r.status === 429)) expectRateLimited(res);
    const answer = await real;
    expect(answer.status).toBe(200);
    expect(answer.body.user.id).toBe(owner.id);
  });

  it("stops one address's guesses at its pair burst, and never locks the owner out where they logged in before", async () => {
    const base = await appWithDefaults();
    const owner = await api.registerUser("owner");
    const guess = (address: string) => login(base, owner.username, "wrong password", address);

    // 13 wrong guesses from A: the pair burst is answered, the rest refused.
    const attacker = freshAddress();
    const fromA: TestResponse[] = [];
    for (let i = 0; i < 13; i++) fromA.push(await guess(attacker));
    const pairBurst = DEFAULTS.RATE_LIMIT_LOGIN_PAIR_BURST;
    expect(statuses(fromA)).toEqual([...Array<number>(pairBurst).fill(401), ...Array<number>(13 - pairBurst).fill(429)]);
    expectRateLimited(fromA.at(-1)!);
    // Even the right password is refused at A now.
    expectRateLimited(await login(base, owner.username, PASSWORD, attacker));

    // The owner, from a fresh address B.
    const home = freshAddress();
    expect((await login(base, owner.username, PASSWORD, home)).status).toBe(200);

    // Guesses from many addresses, one each, until the per-username bucket is empty: A's answered
    // guesses and the owner's login at B took from it too.
    const spread: TestResponse[] = [];
    while (spread.length < 2 * DEFAULTS.RATE_LIMIT_LOGIN_BURST && spread.at(-1)?.status !== 429) spread.push(await guess(freshAddress()));
    expect(statuses(spread)).toEqual([...Array<number>(DEFAULTS.RATE_LIMIT_LOGIN_BURST - pairBurst - 1).fill(401), 429]);
    expectRateLimited(spread.at(-1)!);

    // The owner still logs in from B, and from where they registered; a new address is refused.
    expect((await login(base, owner.username, PASSWORD, home)).status).toBe(200);
    expect((await login(base, owner.username, PASSWORD, "127.0.0.1")).status).toBe(200);
    expectRateLimited(await login(base, owner.username.toUpperCase(), PASSWORD, freshAddress()));

    // What is kept of those addresses: two digests, neither address in the clear.
    const stored = await api.redis.zrange(api.keys.userLoginAddresses(owner.id), "0", "-1");
    expect(stored).toHaveLength(2);
    for (const entry of stored) expect(entry).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
  });

  it("counts unknown usernames in their per-username bucket like known ones", async () => {
    const base = await appWithDefaults({ RATE_LIMIT_LOGIN_BURST: 3 });
    const ghost = `ghost_${uniqueSuffix()}`;
    const answers: TestResponse[] = [];
    for (let i = 0; i < 4; i++) answers.push(await login(base, ghost, "guess", freshAddress()));
    expect(statuses(answers)).toEqual([401, 401, 401, 429]);
  });
});

describe("password hashing bound", () => {
  it("refuses logins beyond the hasher's capacity at once with 503 UNAVAILABLE and Retry-After", async () => {
    const registry = new Registry();
    const base = await appWithDefaults({ PASSWORD_HASH_CONCURRENCY: 1, PASSWORD_HASH_QUEUE: 1 }, registry);
    const owner = await api.registerUser("busy");
    // From 20 addresses, so that no login bucket refuses any of them.
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(base, owner.username, PASSWORD, freshAddress())));

    expect(answers.every((r) => r.status === 200 || r.status === 503), JSON.stringify(statuses(answers))).toBe(true);
    expect(count(answers, 200)).toBeGreaterThanOrEqual(1);
    const refused = answers.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const res of refused) {
      expect(res.body).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String), retryAfterMs: expect.any(Number) } });
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === "parley_api_password_hash_refusals_total");
    expect(metric?.values.find((v) => v.labels.reason === "queue_full")?.value).toBe(refused.length);
  });
});

describe("registration limit", () => {
  it("allows the register burst per address, then 429; another address is not affected", async () => {
    const base = await appWithDefaults();
    const register = (address: string) =>
      api.request("POST", `${base}/api/auth/register`, {
        body: { username: api.username("reg"), password: PASSWORD },
        headers: { "x-forwarded-for": address },
      });
    const address = freshAddress();
    // A request that fails validation costs nothing, and takes no token.
    const invalid = await api.request("POST", `${base}/api/auth/register`, { body: { username: "a b" }, headers: { "x-forwarded-for": address } });
    expect(invalid.status).toBe(400);
    const answers: TestResponse[] = [];
    for (let i = 0; i <= DEFAULTS.RATE_LIMIT_REGISTER_BURST; i++) answers.push(await register(address));
    expect(statuses(answers)).toEqual([...Array<number>(DEFAULTS.RATE_LIMIT_REGISTER_BURST).fill(201), 429]);
    expectRateLimited(answers.at(-1)!);
    expect((await register(freshAddress())).status).toBe(201);
  });
});

describe("search limit", () => {
  it("allows the search burst per user, then 429; another user is not affected", async () => {
    const base = await appWithDefaults();
    const [searcher, other] = [await api.registerUser("searcher"), await api.registerUser("other")];
    const search = (user: TestUser) => api.request("GET", `${base}/api/users?q=sea`, { token: user.token });
    const answers: TestResponse[] = [];
    for (let i = 0; i <= DEFAULTS.RATE_LIMIT_SEARCH_BURST; i++) answers.push(await search(searcher));
    expect(statuses(answers)).toEqual([...Array<number>(DEFAULTS.RATE_LIMIT_SEARCH_BURST).fill(200), 429]);
    expectRateLimited(answers.at(-1)!);
    expect((await search(other)).status).toBe(200);
    // Other routes under /api/users take no search token.
    expect((await api.request("GET", `${base}/api/users/me`, { token: searcher.token })).status).toBe(200);
  });
});

describe("conversation limit", () => {
  it("refuses group creations after the burst; an existing direct conversation and a no-op member addition stay free", async () => {
    const base = await appWithDefaults();
    const [creator, friend, stranger] = [await api.registerUser("creator"), await api.registerUser("friend"), await api.registerUser("stranger")];
    const existing = await api.request("POST", "/api/conversations", { token: creator.token, body: { type: "direct", userId: friend.id } });
    expect(existing.status).toBe(201);
    const post = (body: unknown) => api.request("POST", `${base}/api/conversations`, { token: creator.token, body });

    const groups: TestResponse[] = [];
    for (let i = 0; i < 30; i++) groups.push(await post({ type: "group", name: `spam ${i}`, memberIds: [friend.id] }));
    const burst = DEFAULTS.RATE_LIMIT_CONVERSATION_BURST;
    expect(statuses(groups)).toEqual([...Array<number>(burst).fill(201), ...Array<number>(30 - burst).fill(429)]);
    expectRateLimited(groups.at(-1)!);
    expect(await api.models.Conversation.countDocuments({ createdBy: new Types.ObjectId(creator.id), type: "group" })).toBe(burst);

    // Returning the pair's existing conversation is free; opening a new one is not.
    const again = await post({ type: "direct", userId: friend.id });
    expect(again.status).toBe(200);
    expect(again.body.conversation.id).toBe(existing.body.conversation.id);
    expectRateLimited(await post({ type: "direct", userId: stranger.id }));

    // Adding someone is limited; adding a member again changes nothing and is free.
    const group = groups[0]!.body.conversation as { id: string };
    const add = (userId: string) => api.request("POST", `${base}/api/conversations/${group.id}/members`, { token: creator.token, body: { userIds: [userId] } });
    expect((await add(friend.id)).status).toBe(200);
    expectRateLimited(await add(stranger.id));
  });
});
