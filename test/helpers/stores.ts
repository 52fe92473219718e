/** Redis and MongoDB for tests of the shared caches, and a gate to hold their reads. */
import mongoose, { type Connection } from "mongoose";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";

import { createModels, type Models } from "@parley/shared/models";
import { createRedis, type RedisClient } from "@parley/shared/redis";
import { redisKeys, type RedisKeys } from "@parley/shared/redis-keys";

import { testMongoUrl, uniqueSuffix } from "./env.js";
import { useRedisServer } from "./redis.js";

/** A test file's stores; read them inside tests and hooks only. */
export interface Stores {
  readonly models: Models;
  readonly redis: RedisClient;
  /** Keys under a prefix of the file's own. */
  readonly keys: RedisKeys;
}

/** Starts a redis-server and opens a FerretDB database of the file's own before its tests; closes them after. */
export function useStores(label: string): Stores {
  const redisServer = useRedisServer(label);
  let state: { connection: Connection; models: Models; redis: RedisClient; keys: RedisKeys } | undefined;
  beforeAll(async () => {
    const connection = mongoose.createConnection(testMongoUrl(`shared-${label}`), { bufferCommands: false });
    await connection.asPromise();
    state = {
      connection,
      models: createModels(connection),
      redis: createRedis(redisServer.url, { name: "test", log: pino({ level: "silent" }) }),
      keys: redisKeys(`t${uniqueSuffix()}`),
    };
  });
  afterAll(async () => {
    state?.redis.disconnect();
    await state?.connection.close();
  });
  const current = () => {
    if (!state) throw new Error("stores not open yet");
    return state;
  };
  return {
    get models() {
      return current().models;
    },
    get redis() {
      return current().redis;
    },
    get keys() {
      return current().keys;
    },
  };
}

/** Holds whatever waits on it while closed: a stand-in for a slow database. */
export class Gate {
  private closed: Promise<void> | undefined;

  /** Resolves at once while the gate is open, else when it opens. */
  wait(): Promise<void> {
    return this.closed ?? Promise.resolve();
  }

  /** Closes the gate until the returned function is called. */
  close(): () => void {
    let open!: () => void;
    this.closed = new Promise((resolve) => (open = resolve));
    return () => {
      this.closed = undefined;
      open();
    };
  }
}
