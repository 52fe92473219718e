/** Session auth against the real API, with short-lived access tokens and a clock the tests move. */
import { describe, expect, it } from "vitest";

import { signAccessToken } from "@parley/shared/auth";

import { TEST_JWT_SECRET } from "../../../test/helpers/env.js";
import { rejectionOf } from "../../../test/helpers/rejection.js";
import { useApi } from "../../../services/api/src/testing/api-harness.js";
import { createSessionAuth, localStorageTokens, memoryTokens, type SessionAuth, type SessionInfo, type TokenStorage } from "./auth.js";
import { ParleyError } from "./errors.js";
import { createRestClient } from "./rest.js";

const TTL_SECONDS = 30;
const api = useApi("session-auth", { env: { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) } });
const PASSWORD = "a password of session auth";

/**
 * A session auth on the test API whose clock is `clock.now`, counting the refreshes it sends; while
 * `network.offline`, every request fails as a browser's does without a network.
 */
function setup(storage?: TokenStorage) {
  const clock = { now: Date.now() };
  const counts = { refreshes: 0 };
  const network = { offline: false };
  const auth = createSessionAuth({
    url: api.baseUrl,
    now: () => clock.now,
    ...(storage && { storage }),
    fetch: async (url, init) => {
      if (network.offline) throw new TypeError("Failed to fetch");
      if (String(url).endsWith("/api/auth/refresh")) counts.refreshes++;
      return fetch(url, init);
    },
  });
  return { auth, clock, counts, network };
}

/** The ParleyError `promise` rejects with. */
const failure = (promise: Promise<unknown>) => rejectionOf(promise, ParleyError);

/** Whom the API says `token` belongs to; throws its refusal. */
async function whoIs(token: string): Promise<string> {
  const { user } = await createRestClient({ url: api.baseUrl, getToken: async () => token }).call("users.me", {});
  return user.id;
}

async function registered(auth: SessionAuth): Promise<{ username: string; info: SessionInfo }> {
  const username = api.username("sa");
  return { username, info: await auth.register({ username, password: PASSWORD }) };
}

describe("session auth", () => {
  it("hands out the token, refreshes it before it expires, once for concurrent callers, and logs out", async () => {
    const { auth, clock, counts } = setup();
    const { username } = await registered(auth);
    const seen: (SessionInfo | null)[] = [];
    auth.session.subscribe(() => seen.push(auth.session.get()));

    const info = await auth.login({ username, password: PASSWORD });
    expect(auth.session.get()).toEqual(info);
    expect(seen).toEqual([info]);
    const first = await auth.getToken();
    expect(await auth.getToken()).toBe(first);
    expect(await whoIs(first)).toBe(info.user.id);
    expect(counts.refreshes).toBe(0);

    // 20 s on, 10 s are left: less than half of the 30 s lifetime.
    clock.now += 20_000;
    const [a, b, c] = await Promise.all([auth.getToken(), auth.getToken(), auth.getToken()]);
    expect(counts.refreshes).toBe(1);
    expect(a).not.toBe(first);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await whoIs(a)).toBe(info.user.id);
    const refreshed = auth.session.get();
    expect(refreshed?.sessionId).toBe(info.sessionId);
    expect(Date.parse(refreshed!.expiresAt)).toBe(clock.now + TTL_SECONDS * 1000);
    expect(await auth.getToken()).toBe(a);
    expect(counts.refreshes).toBe(1);

    await auth.logout();
    expect(auth.session.get()).toBeNull();
    expect(seen.at(-1)).toBeNull();
    expect(await failure(auth.getToken())).toMatchObject({ code: "AUTH_REQUIRED" });
    expect(await failure(whoIs(a))).toMatchObject({ code: "SESSION_REVOKED" });
  });

  it("ends the session here when its refresh is refused", async () => {
    const { auth, clock } = setup();
    const { info } = await registered(auth);
    const other = setup().auth;
    await other.login({ username: info.user.username, password: PASSWORD });
    await other.logoutAll();

    clock.now += 20_000;
    expect(await failure(auth.getToken())).toMatchObject({ code: "SESSION_REVOKED", status: 401 });
    expect(auth.session.get()).toBeNull();
    expect(await failure(auth.getToken())).toMatchObject({ code: "AUTH_REQUIRED" });
  });

  it("refreshes when the server refuses a token the local clock still takes for valid", async () => {
    const original = memoryTokens();
    const { info } = await registered(setup(original).auth);
    const expired = signAccessToken({ userId: info.user.id, sessionId: info.sessionId }, TEST_JWT_SECRET, 60, Date.now() - 3_600_000).token;
    const stored = (await original.load())!;
    const storage = memoryTokens();
    await storage.save({ ...stored, accessToken: expired, expiresAt: new Date(Date.now() + 600_000).toISOString(), expiresIn: 900 });

    const { auth, counts } = setup(storage);
    await auth.ready;
    expect(auth.session.get()?.sessionId).toBe(info.sessionId);
    expect(await auth.getToken()).toBe(expired);
    const rest = createRestClient({ url: api.baseUrl, getToken: auth.getToken });
    expect((await rest.call("users.me", {})).user.id).toBe(info.user.id);
    expect(counts.refreshes).toBe(1);
    expect(await auth.getToken()).not.toBe(expired);
  });

  it("keeps the session through refreshes that get no answer (offline), and refreshes once back", async () => {
    const storage = memoryTokens();
    const { auth, clock, counts, network } = setup(storage);
    const { info } = await registered(auth);
    const first = await auth.getToken();

    // Offline, past the token's expiry: every refresh fails as retryable, and nothing is forgotten.
    network.offline = true;
    clock.now += 2 * TTL_SECONDS * 1000;
    for (let i = 0; i < 3; i++) expect(await failure(auth.getToken())).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect(auth.session.get()?.sessionId).toBe(info.sessionId);
    expect((await storage.load())?.refreshToken).toBeDefined();

    // A reload while still offline starts from the stored session, as logged in as before.
    const reloaded = setup(storage);
    reloaded.network.offline = true;
    await reloaded.auth.ready;
    expect(reloaded.auth.session.get()?.sessionId).toBe(info.sessionId);

    // Back online: one refresh, on the same session.
    network.offline = false;
    const next = await auth.getToken();
    expect(next).not.toBe(first);
    expect(counts.refreshes).toBe(1);
    expect(await whoIs(next)).toBe(info.user.id);
    expect(auth.session.get()?.sessionId).toBe(info.sessionId);
  });

  it("keeps the session in memory where there is no localStorage", async () => {
    const storage = localStorageTokens("parley.test");
    expect(await storage.load()).toBeNull();
    const { auth } = setup(storage);
    const { info } = await registered(auth);
    expect((await storage.load())?.sessionId).toBe(info.sessionId);
  });
});
