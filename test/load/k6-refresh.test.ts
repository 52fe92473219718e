/**
 * The k6 client keeps its sockets alive as a real client does: on a cluster whose access tokens last a
 * few seconds, the chat scenario's sockets are warned (`session:expiring`), refresh over REST, hand the
 * new token to the live socket (`auth:refresh`) several times over, and none is cut or misses a message.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { runK6 } from "../../scripts/bench/k6.js";
import { LOAD_GENERATOR_NGINX_LIMITS } from "../../scripts/lib/nginx.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { useCluster } from "../helpers/cluster.js";
import { testDir } from "../helpers/env.js";

const ACCESS_TOKEN_TTL_SECONDS = 6;
const fixture = useCluster("k6-refresh", {
  nginxLimits: LOAD_GENERATOR_NGINX_LIMITS,
  envFor: {
    api: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) },
    gateway: { SESSION_EXPIRY_WARNING_SECONDS: "4" },
  },
});

describe("k6 sockets across token expiry", { timeout: 120_000 }, () => {
  it("refresh their tokens without a disconnect, and deliver every message", async () => {
    const dir = testDir("k6-refresh");
    const run = runK6({
      scenario: join(ROOT, "load-tests/scenarios/chat.js"),
      // Four token lifetimes: every socket renews its token at least three times.
      env: { TARGET: fixture.cluster.url, CONVERSATIONS: "2", MEMBERS: "3", RATE: "1", DURATION: "20s", RAMP: "1s", DRAIN: "1s", DELIVERY_P99_MS: "5000" },
      summaryFile: join(dir, "summary.json"),
      logFile: join(dir, "k6.log"),
    });
    const { exitCode, summary } = await run.done;
    const log = readFileSync(join(dir, "k6.log"), "utf8");
    const count = (name: string) => summary.raw[name]?.count ?? 0;
    expect(exitCode, log).toBe(0);
    expect(count("session_refreshes"), log).toBeGreaterThanOrEqual(6 * 3);
    expect(count("session_refresh_failures"), log).toBe(0);
    expect(count("disconnects"), log).toBe(0);
    expect(count("missed")).toBe(0);
    expect(count("messages_delivered")).toBe(count("messages_sent") * 2);
  });
});
