import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { MAX_PRESENCE_QUERY } from "@parley/protocol";

import { connected, flush, setup } from "../testing/harness.js";
import { PRESENCE_QUERY_CHUNK } from "./presence.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(24, "0"));
const online = { status: "online", lastSeen: null } as const;

describe("presence", () => {
  it("chunks queries at the protocol's limit", () => {
    expect(PRESENCE_QUERY_CHUNK).toBe(MAX_PRESENCE_QUERY);
  });

  it("queries at most 500 ids at a time, keeps live updates, and asks again after a reconnect", async () => {
    const s = setup();
    await connected(s);
    const users = ids(501);
    const handle = s.client.presence(users);
    await flush();
    const first = s.socket.pending("presence:query");
    expect(first.map((r) => (r.payload.userIds as string[]).length)).toEqual([500]);
    s.socket.ok("presence:query", { presence: Object.fromEntries(users.slice(0, 500).map((u) => [u, online])) });
    await flush();
    expect(s.socket.pending("presence:query").map((r) => r.payload.userIds)).toEqual([[users[500]]]);
    s.socket.ok("presence:query", { presence: { [users[500] as string]: online } });
    await flush();
    expect(Object.keys(handle.get())).toHaveLength(501);

    const snapshot = handle.get();
    s.socket.push("presence:update", { userId: "f".repeat(24), status: "online", lastSeen: null });
    expect(handle.get()).toBe(snapshot);
    s.socket.push("presence:update", { userId: users[0] as string, status: "offline", lastSeen: "2026-01-01T00:00:00.000Z" });
    expect(handle.get()[users[0] as string]).toEqual({ status: "offline", lastSeen: "2026-01-01T00:00:00.000Z" });

    s.socket.drop();
    await s.socket.open();
    await flush();
    expect(s.socket.pending("presence:query").map((r) => (r.payload.userIds as string[]).length)).toEqual([500]);
    handle.release();
    await s.client.dispose();
  });

  it("forgets users 100 ms after their last handle is released", async () => {
    const s = setup();
    await connected(s);
    const [a, b] = ids(2) as [string, string];
    const one = s.client.presence([a, b]);
    const two = s.client.presence([b]);
    await flush();
    s.socket.ok("presence:query", { presence: { [a]: online, [b]: online } });
    await flush();
    expect(s.socket.pending("presence:query")).toEqual([]);
    one.release();
    await flush(100);
    expect(Object.keys(two.get())).toEqual([b]);
    s.socket.push("presence:update", { userId: a, status: "offline", lastSeen: null });
    expect(one.get()[a]).toBeUndefined();
    two.release();
    await s.client.dispose();
  });

  it("retries after RATE_LIMITED", async () => {
    const s = setup();
    await connected(s);
    s.client.presence(ids(1));
    await flush();
    s.socket.fail("presence:query", { code: "RATE_LIMITED", message: "slow", retryAfterMs: 700 });
    await flush(699);
    expect(s.socket.pending("presence:query")).toEqual([]);
    await flush(1);
    expect(s.socket.pending("presence:query")).toHaveLength(1);
    await s.client.dispose();
  });
});
