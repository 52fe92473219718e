import { PROTOCOL_VERSION } from "@parley/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ParleyError } from "../errors.js";
import { connected, flush, setup } from "../testing/harness.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const backoff = { baseMs: 1000, maxMs: 8000 };

describe("the connection", () => {
  it("handshakes with a token and the protocol version, and is ready at session:ready; connect() is idempotent", async () => {
    const s = setup();
    expect(s.client.connection.get()).toEqual({ state: "idle" });
    const a = s.client.connect();
    const b = s.client.connect();
    expect(s.socket.connectCalls).toBe(1);
    expect(s.client.connection.get().state).toBe("connecting");
    const auth = await s.socket.open({ node: "gw-7" });
    expect(auth).toEqual({ token: "t1", protocol: PROTOCOL_VERSION });
    await Promise.all([a, b]);
    expect(s.client.connection.get()).toMatchObject({ state: "ready", node: "gw-7", sessionId: "bbbbbbbbbbbbbbbbbbbbbbbb", serverProtocol: "1.0" });
    await s.client.connect();
    expect(s.socket.connectCalls).toBe(1);
    await s.client.dispose();
  });

  it.each(["SESSION_REVOKED", "INVALID_TOKEN", "USER_NOT_FOUND", "UNSUPPORTED_PROTOCOL"] as const)(
    "fails on a %s refusal (the user must act), and connect() starts over",
    async (code) => {
      const s = setup();
      const attempt = s.client.connect();
      await s.socket.handshake();
      s.socket.refuse(code);
      await expect(attempt).rejects.toMatchObject({ code });
      expect(s.client.connection.get()).toMatchObject({ state: "failed", error: { code } });
      await flush(60_000);
      expect(s.socket.connectCalls).toBe(1);
      const again = s.client.connect();
      expect(s.socket.connectCalls).toBe(2);
      await s.socket.open();
      await again;
      await s.client.dispose();
    },
  );

  it("on a TOKEN_EXPIRED refusal gets a fresh token and retries after a full-jitter wait", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const s = setup({ backoff });
    const done = s.client.connect();
    expect((await s.socket.handshake()).token).toBe("t1");
    s.socket.refuse("TOKEN_EXPIRED");
    expect(s.client.connection.get()).toMatchObject({ state: "connecting", retryInMs: 500, error: { code: "TOKEN_EXPIRED" } });
    await flush(499);
    expect(s.socket.connectCalls).toBe(1);
    await flush(1);
    expect(s.socket.connectCalls).toBe(2);
    expect((await s.socket.open()).token).toBe("t2");
    expect(s.getToken.mock.calls.at(-1)).toEqual([{ expired: "t1" }]);
    await done;
    expect(s.client.connection.get().state).toBe("ready");
    await s.client.dispose();
  });

  it("backs off with full jitter under a doubling cap while refusals go on, and starts over once ready", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.999_999);
    const s = setup({ backoff });
    void s.client.connect();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await s.socket.handshake();
      s.socket.refuse("UNAVAILABLE");
      waits.push(s.client.connection.get().retryInMs ?? -1);
      await flush(waits.at(-1));
    }
    expect(waits).toEqual([999, 1999, 3999, 7999, 7999]);
    await s.socket.open();
    await flush();
    random.mockReturnValue(0);
    s.socket.drop("io server disconnect", false);
    expect(s.client.connection.get()).toMatchObject({ state: "reconnecting", retryInMs: 0 });
    await s.client.dispose();
  });

  it("after session:ended TOKEN_EXPIRED (a server disconnect Socket.IO does not retry) reconnects with a new token", async () => {
    const s = setup({ backoff });
    await connected(s);
    s.socket.push("session:ended", { code: "TOKEN_EXPIRED", message: "expired" });
    s.socket.drop("io server disconnect", false);
    expect(s.client.connection.get().state).toBe("reconnecting");
    await flush(1000);
    expect(s.socket.connectCalls).toBe(2);
    expect((await s.socket.open()).token).toBe("t2");
    await flush();
    expect(s.client.connection.get().state).toBe("ready");
    await s.client.dispose();
  });

  it("fails after session:ended SESSION_REVOKED", async () => {
    const s = setup();
    await connected(s);
    s.socket.push("session:ended", { code: "SESSION_REVOKED", message: "logged out elsewhere" });
    s.socket.drop("io server disconnect", false);
    expect(s.client.connection.get()).toMatchObject({ state: "failed", error: { code: "SESSION_REVOKED", message: "logged out elsewhere" } });
    await flush(60_000);
    expect(s.socket.connectCalls).toBe(1);
    await s.client.dispose();
  });

  it("leaves a dropped transport to Socket.IO's own reconnection", async () => {
    const s = setup();
    await connected(s);
    s.socket.drop("transport close", true);
    expect(s.client.connection.get()).toMatchObject({ state: "reconnecting", userId: expect.any(String) });
    await flush(60_000);
    expect(s.socket.connectCalls).toBe(1);
    await s.socket.open();
    await flush();
    expect(s.client.connection.get().state).toBe("ready");
    await s.client.dispose();
  });

  it("stops when getToken throws a ParleyError that is not retryable, retries when it throws anything else", async () => {
    const revoked = new ParleyError({ code: "SESSION_REVOKED", message: "log in again" });
    const getToken = vi.fn<() => Promise<string>>().mockRejectedValueOnce(new TypeError("offline")).mockRejectedValueOnce(revoked);
    const s = setup({ getToken, backoff });
    const done = s.client.connect();
    done.catch(() => {});
    const auth = s.socket.options?.auth;
    const sent = vi.fn();
    auth?.(sent);
    await flush();
    expect(s.client.connection.get()).toMatchObject({ state: "connecting", error: { code: "UNAVAILABLE" } });
    await flush(1000);
    expect(s.socket.connectCalls).toBe(2);
    auth?.(sent);
    await flush();
    await expect(done).rejects.toBe(revoked);
    expect(s.client.connection.get()).toMatchObject({ state: "failed", error: revoked });
    expect(sent).not.toHaveBeenCalled();
    await s.client.dispose();
  });

  it("answers session:expiring with auth:refresh and a new token, retrying a failure with backoff", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const s = setup({ backoff });
    await connected(s);
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    s.socket.push("session:expiring", { expiresAt });
    await flush();
    expect(s.socket.pending("auth:refresh").map((r) => r.payload)).toEqual([{ token: "t2" }]);
    s.socket.fail("auth:refresh", { code: "UNAVAILABLE", message: "redis" });
    await flush(499);
    expect(s.socket.pending("auth:refresh")).toEqual([]);
    await flush(1);
    expect(s.socket.pending("auth:refresh").map((r) => r.payload)).toEqual([{ token: "t3" }]);
    s.socket.ok("auth:refresh", { expiresAt: new Date(Date.now() + 900_000).toISOString() });
    await flush(60_000);
    expect(s.socket.requests.filter((r) => r.event === "auth:refresh")).toHaveLength(2);
    await s.client.dispose();
  });

  it("asks the provider for a newer token when auth:refresh did not extend the session", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const s = setup({ backoff });
    await connected(s);
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    s.socket.push("session:expiring", { expiresAt });
    await flush();
    s.socket.ok("auth:refresh", { expiresAt });
    await flush();
    expect(s.getToken.mock.calls.at(-1)).toEqual([{ expired: "t2" }]);
    s.socket.fail("auth:refresh", { code: "TOKEN_EXPIRED", message: "expired" });
    await flush();
    expect(s.getToken.mock.calls.at(-1)).toEqual([{ expired: "t3" }]);
    s.socket.fail("auth:refresh", { code: "SESSION_REVOKED", message: "revoked" });
    await flush();
    expect(s.client.connection.get()).toMatchObject({ state: "failed", error: { code: "SESSION_REVOKED" } });
    await s.client.dispose();
  });

  it("drops a refresh token that arrives after the socket went away", async () => {
    let release: (t: string) => void = () => {};
    const getToken = vi.fn<() => Promise<string>>().mockResolvedValueOnce("t1").mockImplementationOnce(() => new Promise((r) => (release = r)));
    const s = setup({ getToken });
    await connected(s);
    s.socket.push("session:expiring", { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await flush();
    s.socket.drop();
    // The new handshake shares the call in flight (single-flight); auth:refresh is not sent with it.
    const opening = s.socket.open();
    release("late");
    expect((await opening).token).toBe("late");
    await flush();
    expect(s.socket.requests.filter((r) => r.event === "auth:refresh")).toHaveLength(0);
    await s.client.dispose();
  });

  it("wires its socket listeners once, whatever the number of reconnects", async () => {
    const s = setup();
    await connected(s);
    const before = s.socket.listenerCount("message:new");
    for (let i = 0; i < 5; i++) {
      s.socket.drop();
      await s.socket.open();
      await flush();
    }
    expect(before).toBe(1);
    expect(s.socket.listenerCount("message:new")).toBe(1);
    expect(s.socket.listenerCount("session:ready")).toBe(1);
    await s.client.dispose();
  });

  it("dispose() closes the socket, cancels retries, and later calls refuse", async () => {
    const s = setup({ backoff });
    void s.client.connect().catch(() => {});
    await s.socket.handshake();
    s.socket.refuse("UNAVAILABLE");
    await s.client.dispose();
    expect(s.client.connection.get().state).toBe("disposed");
    expect(vi.getTimerCount()).toBe(0);
    await flush(60_000);
    expect(s.socket.connectCalls).toBe(1);
    expect(s.socket.listenerCount("message:new")).toBe(0);
    await expect(s.client.connect()).rejects.toThrow(/disposed/);
    expect(() => s.client.conversation("x")).toThrow(/disposed/);
    await s.client.dispose();
  });
});
