import { describe, expect, it } from "vitest";

import { ConfigError, loadConfig } from "@parley/shared/config";

import { workerConfigSchema } from "./config.js";

describe("worker config", () => {
  it("has defaults for everything and does not ask for the JWT secret", () => {
    const config = loadConfig(workerConfigSchema, {});
    expect(config).toMatchObject({
      PORT: 4100,
      HOST: "0.0.0.0",
      PERSIST_BATCH_SIZE: 500,
      PERSIST_BATCH_WAIT_MS: 20,
      PERSIST_MAX_CONCURRENT_WRITES: 2,
      SHUTDOWN_TIMEOUT_MS: 30_000,
      QUEUE_PREFIX: "{parley}",
    });
    expect(config).not.toHaveProperty("JWT_SECRET");
  });

  it("reads numbers from the environment", () => {
    const config = loadConfig(workerConfigSchema, { PORT: "9000", PERSIST_BATCH_SIZE: "50", PERSIST_BATCH_WAIT_MS: "0" });
    expect(config).toMatchObject({ PORT: 9000, PERSIST_BATCH_SIZE: 50, PERSIST_BATCH_WAIT_MS: 0 });
  });

  it("names every invalid variable at once", () => {
    const load = () => loadConfig(workerConfigSchema, { PORT: "x", PERSIST_BATCH_SIZE: "0", PERSIST_BATCH_WAIT_MS: "-1" });
    expect(load).toThrow(ConfigError);
    try {
      load();
    } catch (err) {
      const names = (err as ConfigError).problems.map((p) => p.split(":")[0]);
      expect(names.sort()).toEqual(["PERSIST_BATCH_SIZE", "PERSIST_BATCH_WAIT_MS", "PORT"]);
    }
  });
});
