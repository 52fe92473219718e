/** A private redis-server for one test file, stopped in teardown. */
import { afterAll, beforeAll } from "vitest";

import { startRedisServer, type RedisServer } from "../../scripts/lib/redis-server.js";
import { testDir } from "./env.js";

/**
 * Starts a redis-server before the file's tests and stops it after them. Read `.url` inside tests or
 * hooks, not at import time.
 */
export function useRedisServer(label: string, args: readonly string[] = []): { readonly url: string; readonly server: RedisServer } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer({ dir: testDir(`redis-${label}`), args });
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get url() {
      if (!server) throw new Error("redis-server not started yet");
      return server.url;
    },
    get server() {
      if (!server) throw new Error("redis-server not started yet");
      return server;
    },
  };
}
