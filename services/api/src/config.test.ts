import { describe, expect, it } from "vitest";

import { ConfigError } from "@parley/shared/config";

import { loadApiConfig } from "./config.js";

const SECRET = "a-jwt-secret-that-is-at-least-32-characters";

describe("loadApiConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadApiConfig({ JWT_SECRET: SECRET });
    expect(config).toMatchObject({
      PORT: 4000,
      HOST: "0.0.0.0",
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_SECONDS: 2_592_000,
      REFRESH_TOKEN_REUSE_GRACE_SECONDS: 10,
      MAX_SESSIONS_PER_USER: 50,
      TRUST_PROXY: "loopback",
      BODY_LIMIT_BYTES: 65_536,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      CLIENT_MSG_ID_TTL_SECONDS: 86_400,
      REDIS_PREFIX: "parley",
      PASSWORD_HASH_CONCURRENCY: 2,
      PASSWORD_HASH_QUEUE: 16,
      PASSWORD_HASH_MAX_WAIT_MS: 3000,
    });
  });

  it("reads the password hasher's bounds, and refuses a concurrency of 0", () => {
    const config = loadApiConfig({ JWT_SECRET: SECRET, PASSWORD_HASH_CONCURRENCY: "4", PASSWORD_HASH_QUEUE: "0", PASSWORD_HASH_MAX_WAIT_MS: "500" });
    expect(config).toMatchObject({ PASSWORD_HASH_CONCURRENCY: 4, PASSWORD_HASH_QUEUE: 0, PASSWORD_HASH_MAX_WAIT_MS: 500 });
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, PASSWORD_HASH_CONCURRENCY: "0" })).toThrow(/PASSWORD_HASH_CONCURRENCY/);
  });

  it.each([
    ["true", true],
    ["false", false],
    ["2", 2],
    ["loopback, 10.0.0.0/8", "loopback, 10.0.0.0/8"],
    ["::1", "::1"],
  ])("reads TRUST_PROXY=%s as Express expects it", (value, expected) => {
    expect(loadApiConfig({ JWT_SECRET: SECRET, TRUST_PROXY: value }).TRUST_PROXY).toEqual(expected);
  });

  it("names every invalid variable at once", () => {
    expect.assertions(2);
    try {
      loadApiConfig({ PORT: "70000", TRUST_PROXY: "everyone", BODY_LIMIT_BYTES: "lots" });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const names = (err as ConfigError).problems.map((p) => p.split(":")[0]).sort();
      expect(names).toEqual(["BODY_LIMIT_BYTES", "JWT_SECRET", "PORT", "TRUST_PROXY"]);
    }
  });
});
