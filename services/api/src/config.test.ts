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

  it("reads the ICE servers of calls: none by default, a JSON array, and TURN with its secret", () => {
    const plain = loadApiConfig({ JWT_SECRET: SECRET });
    expect(plain.CALL_ICE_SERVERS).toBeUndefined();
    expect(plain.TURN_URLS).toBeUndefined();
    expect(plain.TURN_CREDENTIAL_TTL_SECONDS).toBe(3600);
    const servers = [{ urls: "stun:stun.example.com:3478" }, { urls: ["turn:t.example.com", "turns:t.example.com:5349"], username: "u", credential: "c" }];
    const config = loadApiConfig({
      JWT_SECRET: SECRET,
      CALL_ICE_SERVERS: JSON.stringify(servers),
      TURN_URLS: "turn:turn.example.com:3478,turns:turn.example.com:5349",
      TURN_SECRET: "a-shared-secret-of-coturn",
    });
    expect(config.CALL_ICE_SERVERS).toEqual(servers);
    expect(config.TURN_URLS).toEqual(["turn:turn.example.com:3478", "turns:turn.example.com:5349"]);
  });

  it.each([
    ["not JSON", "stun:stun.example.com", /CALL_ICE_SERVERS: must be a JSON array of \{ urls, username\?, credential\? \}/],
    ["not an array", JSON.stringify({ urls: "stun:a.example.com" }), /CALL_ICE_SERVERS: must be a JSON array/],
    ["a URL of another scheme", JSON.stringify([{ urls: "https://a.example.com" }]), /CALL_ICE_SERVERS\.0\.urls: must be a stun:, stuns:, turn: or turns: URL/],
    ["a misspelt key", JSON.stringify([{ url: "stun:a.example.com" }]), /CALL_ICE_SERVERS\.0\.urls: must be a stun:, stuns:, turn: or turns: URL, or an array of them[\s\S]*CALL_ICE_SERVERS\.0: Unrecognized key: "url"/],
  ])("refuses CALL_ICE_SERVERS that is %s, naming the variable", (_label, value, message) => {
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, CALL_ICE_SERVERS: value })).toThrow(message);
  });

  it("never quotes CALL_ICE_SERVERS in its errors: it may hold credentials", () => {
    const value = '[{"urls":"turn:t.example.com","username":"u","credential":"hunter2-secret"';
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, CALL_ICE_SERVERS: value })).toThrow(/CALL_ICE_SERVERS: must be a JSON array of .*: it is not JSON/);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, CALL_ICE_SERVERS: value })).not.toThrow(/hunter2/);
  });

  it("refuses TURN_URLS without TURN_SECRET and the other way round, a short secret, and a URL that is not TURN", () => {
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, TURN_URLS: "turn:t.example.com" })).toThrow(/TURN_SECRET: is required with TURN_URLS/);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, TURN_SECRET: "a-shared-secret-of-coturn" })).toThrow(/TURN_URLS: is required with TURN_SECRET/);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, TURN_URLS: "turn:t.example.com", TURN_SECRET: "short" })).toThrow(/TURN_SECRET: must be at least 16/);
    expect(() => loadApiConfig({ JWT_SECRET: SECRET, TURN_URLS: "stun:t.example.com", TURN_SECRET: "a-shared-secret-of-coturn" })).toThrow(
      /TURN_URLS: "stun:t.example.com" is not a turn: or turns: URL/,
    );
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
