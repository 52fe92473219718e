/** `GET /api/calls/ice-servers`: the configured servers, and TURN credentials a TURN server can check. */
import { createHmac } from "node:crypto";

import { describe, expect, it } from "vitest";

import { useApi } from "../testing/api-harness.js";

const STUN = { urls: "stun:stun.example.com:3478" };
const RELAY = { urls: ["turn:relay.example.com:3478?transport=udp", "turns:relay.example.com:5349"], username: "static", credential: "pass" };
const TURN_SECRET = "a-turn-secret-of-the-tests";
const TTL_SECONDS = 600;

const api = useApi("calls", {
  env: {
    CALL_ICE_SERVERS: JSON.stringify([STUN, RELAY]),
    TURN_URLS: "turn:turn.example.com:3478, turns:turn.example.com:5349",
    TURN_SECRET,
    TURN_CREDENTIAL_TTL_SECONDS: String(TTL_SECONDS),
  },
});

describe("GET /api/calls/ice-servers", () => {
  it("needs a token", async () => {
    const res = await api.request("GET", "/api/calls/ice-servers");
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("AUTH_REQUIRED");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("answers the configured servers, then the TURN server with the caller's own credentials, which the shared secret verifies", async () => {
    const user = await api.registerUser("caller");
    const before = Math.floor(Date.now() / 1000);
    const res = await api.request("GET", "/api/calls/ice-servers", { token: user.token });
    const after = Math.floor(Date.now() / 1000);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { iceServers, expiresAt } = res.body as { iceServers: { urls: string[]; username: string; credential: string }[]; expiresAt: string };
    expect(iceServers.slice(0, 2)).toEqual([STUN, RELAY]);
    const turn = iceServers[2]!;
    expect(iceServers).toHaveLength(3);
    expect(turn.urls).toEqual(["turn:turn.example.com:3478", "turns:turn.example.com:5349"]);

    // coturn's use-auth-secret: `<expiry>:<user>`, and base64(HMAC-SHA1(secret, username)).
    const [expiry, userId] = turn.username.split(":");
    expect(userId).toBe(user.id);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + TTL_SECONDS);
    expect(Number(expiry)).toBeLessThanOrEqual(after + TTL_SECONDS);
    expect(turn.credential).toBe(createHmac("sha1", TURN_SECRET).update(turn.username).digest("base64"));
    expect(turn.credential).not.toBe(createHmac("sha1", "another-secret-entirely").update(turn.username).digest("base64"));
    expect(Date.parse(expiresAt)).toBe(Number(expiry) * 1000);

    // Each user gets credentials of their own.
    const other = await api.registerUser("other");
    const theirs = (await api.request("GET", "/api/calls/ice-servers", { token: other.token })).body.iceServers[2];
    expect(theirs.username).toMatch(new RegExp(`^\\d+:${other.id}$`));
    expect(theirs.credential).not.toBe(turn.credential);
  });
});
