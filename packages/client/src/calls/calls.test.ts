import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { connected, flush, OTHER, setup } from "../testing/harness.js";
import { ICE_MAX_AGE_MS, ICE_REFRESH_MARGIN_MS } from "./ice-servers.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const CALL = "0b7c1a52-2f8e-4f4e-9a55-0f1c6a7d3e21";

describe("calls", () => {
  it("signals with acks, rejects refusals and timeouts as ParleyErrors, and relays the server's events", async () => {
    const s = setup({ ackTimeoutMs: 5000 });
    await connected(s);
    const started = s.client.calls.initiate(OTHER, "video");
    await flush();
    s.socket.ok("call:initiate", { callId: CALL });
    expect(await started).toBe(CALL);
    const offer = s.client.calls.offer(CALL, "v=0");
    await flush();
    expect(s.socket.pending("call:offer").map((r) => r.payload)).toEqual([{ callId: CALL, sdp: "v=0" }]);
    s.socket.ok("call:offer");
    await offer;
    const busy = s.client.calls.initiate(OTHER, "audio");
    await flush();
    s.socket.fail("call:initiate", { code: "BUSY", message: "in a call" });
    await expect(busy).rejects.toMatchObject({ name: "ParleyError", code: "BUSY", retryable: false });
    const silent = s.client.calls.end(CALL);
    const result = expect(silent).rejects.toMatchObject({ code: "UNAVAILABLE", retryable: true });
    await flush(5000);
    await result;

    const answers: unknown[] = [];
    const off = s.client.calls.on("call:answer", (p) => answers.push(p));
    s.socket.push("call:answer", { callId: CALL, sdp: "answer" });
    off();
    s.socket.push("call:answer", { callId: CALL, sdp: "again" });
    expect(answers).toEqual([{ callId: CALL, sdp: "answer" }]);
    await s.client.dispose();
  });

  it("sends signaling in order, waiting out RATE_LIMITED before what came after it", async () => {
    const s = setup();
    await connected(s);
    const first = s.client.calls.ice(CALL, { candidate: "a" });
    const second = s.client.calls.ice(CALL, { candidate: "b" });
    await flush();
    expect(s.socket.pending("call:ice-candidate").map((r) => r.payload.candidate)).toEqual([{ candidate: "a" }]);
    s.socket.fail("call:ice-candidate", { code: "RATE_LIMITED", message: "slow", retryAfterMs: 300 });
    await flush(299);
    expect(s.socket.pending("call:ice-candidate")).toEqual([]);
    await flush(1);
    expect(s.socket.pending("call:ice-candidate").map((r) => r.payload.candidate)).toEqual([{ candidate: "a" }]);
    s.socket.ok("call:ice-candidate");
    await first;
    await flush();
    expect(s.socket.pending("call:ice-candidate").map((r) => r.payload.candidate)).toEqual([{ candidate: "b" }]);
    s.socket.fail("call:ice-candidate", { code: "NOT_FOUND", message: "over" });
    await expect(second).rejects.toMatchObject({ code: "NOT_FOUND" });
    await s.client.dispose();
  });

  it("refuses at once when not connected (nothing is buffered for later)", async () => {
    const s = setup();
    await expect(s.client.calls.ice(CALL, { candidate: "" })).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(s.socket.requests).toEqual([]);
    await s.client.dispose();
  });

  it("answers the ICE servers of the API, cached until shortly before their credentials expire, one request for concurrent callers", async () => {
    const s = setup();
    const turn = { urls: ["turn:turn.example.com"], username: "1:u", credential: "c1" };
    s.api.iceList = { iceServers: [{ urls: "stun:stun.example.com" }, turn], expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    const [a, b] = await Promise.all([s.client.calls.iceServers(), s.client.calls.iceServers()]);
    expect(a).toEqual([{ urls: "stun:stun.example.com" }, turn]);
    expect(b).toEqual(a);
    expect(s.api.iceCalls).toBe(1);

    // Kept until the margin before the expiry, then asked again.
    await flush(3_600_000 - ICE_REFRESH_MARGIN_MS - 1);
    await s.client.calls.iceServers();
    expect(s.api.iceCalls).toBe(1);
    s.api.iceList = { iceServers: [{ ...turn, credential: "c2" }], expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    await flush(1);
    expect(await s.client.calls.iceServers()).toEqual([{ ...turn, credential: "c2" }]);
    expect(s.api.iceCalls).toBe(2);
    await s.client.dispose();
  });

  it("keeps servers without an expiry for a while, and does not keep a failure", async () => {
    const s = setup();
    s.api.iceErrors = [{ code: "UNAVAILABLE", message: "down" }];
    await expect(s.client.calls.iceServers()).rejects.toMatchObject({ name: "ParleyError", code: "UNAVAILABLE" });
    expect(await s.client.calls.iceServers()).toEqual([]);
    expect(s.api.iceCalls).toBe(2);
    await flush(ICE_MAX_AGE_MS - 1);
    await s.client.calls.iceServers();
    expect(s.api.iceCalls).toBe(2);
    await flush(1);
    await s.client.calls.iceServers();
    expect(s.api.iceCalls).toBe(3);
    await s.client.dispose();
  });
});
