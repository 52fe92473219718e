import { Writable } from "node:stream";

import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";

import { createEmitter, createRetryingEmitter } from "./emitter.js";
import type { RedisClient } from "./redis.js";

describe("createEmitter", () => {
  it("turns a failed publish into a log line instead of an unhandled rejection", async () => {
    const lines: string[] = [];
    const log = pino({ level: "error" }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const unreachable = { publish: () => Promise.reject(new Error("Connection is closed.")) } as unknown as RedisClient;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const emitter = createEmitter(unreachable, log);
      emitter.to("conv:x").emit("error", { code: "INTERNAL", message: "m", event: "message:send" });
      // Unhandled rejections are reported after the microtask queue drains: give it two macrotask turns.
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(lines.join("")).toContain("emitter publish failed");
  });
});

describe("createRetryingEmitter", () => {
  afterEach(() => vi.useRealTimers());

  /** A Redis whose publish fails `failures` times, then records what it publishes. */
  function flaky(failures: number) {
    const published: string[] = [];
    let calls = 0;
    const redis = {
      publish: (channel: string) => {
        calls++;
        if (calls <= failures) return Promise.reject(new Error("Connection is closed."));
        published.push(channel);
        return Promise.resolve(1);
      },
    } as unknown as RedisClient;
    return { redis, published, calls: () => calls };
  }
  const quiet = pino({ level: "silent" });
  const settle = () => vi.advanceTimersByTimeAsync(0);

  it("publishes a refused packet again, 1 s then 2 s later, until it goes through", async () => {
    vi.useFakeTimers();
    const { redis, published, calls } = flaky(2);
    const { emitter, pending } = createRetryingEmitter(redis, quiet);
    emitter.to("conv:x").emit("message:persisted", { id: "i", conversationId: "c", seq: 1, clientMsgId: "m" });
    await settle();
    expect([calls(), pending()]).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls()).toBe(3);
    expect(published).toHaveLength(1);
    expect(pending()).toBe(0);
  });

  it("gives up after five minutes, and drops what waits when stopped", async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = pino({ level: "warn" }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const down = flaky(Number.POSITIVE_INFINITY);
    const { emitter, pending } = createRetryingEmitter(down.redis, log);
    emitter.to("conv:x").emit("message:persisted", { id: "i", conversationId: "c", seq: 1, clientMsgId: "m" });
    await vi.advanceTimersByTimeAsync(6 * 60_000);
    expect(pending()).toBe(0);
    // At 0, 1, 3, 7, 15 and 31 s, then every 30 s: the 15th, at 5 min 1 s, fails and gives up.
    expect(down.calls()).toBe(15);
    expect(lines.filter((l) => l.includes("will be published again"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("dropped after retrying"))).toHaveLength(1);

    const stopping = createRetryingEmitter(flaky(Number.POSITIVE_INFINITY).redis, quiet);
    stopping.emitter.to("conv:x").emit("message:persisted", { id: "i", conversationId: "c", seq: 1, clientMsgId: "m" });
    await settle();
    expect(stopping.pending()).toBe(1);
    stopping.stop();
    expect(stopping.pending()).toBe(0);
  });
});
