import { Writable } from "node:stream";

import { pino } from "pino";
import { describe, expect, it } from "vitest";

import { createEmitter } from "./emitter.js";
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
