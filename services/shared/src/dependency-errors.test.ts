/**
 * The classifier of dependency outages, on the errors the real clients throw: ioredis and BullMQ
 * against a closed port, a stopped redis-server, a read-only replica and a cluster node without slots;
 * mongoose and the MongoDB driver against a closed port and a FerretDB stopped under them. Then the
 * mapping that uses it (`toWireError`, `httpStatusOf`).
 */
import { join } from "node:path";

import { S3ServiceException } from "@aws-sdk/client-s3";
import { ConnectionClosedError, Queue } from "bullmq";
import { Cluster, Redis, ReplyError } from "ioredis";
import mongoose, { type Connection } from "mongoose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startFerretDb, type FerretDb } from "../../../scripts/lib/ferretdb.js";
import { freePort } from "../../../scripts/lib/ports.js";
import { startRedisServer } from "../../../scripts/lib/redis-server.js";
import { testDir } from "../../../test/helpers/env.js";
import { ObjectStorage } from "./attachments/storage.js";
import { isDependencyUnavailable } from "./dependency-errors.js";
import { ValidationError, httpStatusOf, toWireError } from "./errors.js";

/** What `work` rejects with; fails the test when it resolves. */
async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

/** The first `error` event of an ioredis client or cluster. */
function firstError(client: Redis | Cluster): Promise<unknown> {
  return new Promise((resolve) => client.once("error", resolve));
}

/** A client that reports its errors to nobody (they are what the tests look at). */
function quiet<T extends Redis | Cluster>(client: T): T {
  client.on("error", () => {});
  return client;
}

let closedPort: number;
beforeAll(async () => {
  closedPort = await freePort();
});

describe("ioredis and BullMQ, Redis unreachable", () => {
  it("a command after the retries per request (MaxRetriesPerRequestError)", async () => {
    const redis = quiet(new Redis(closedPort, "127.0.0.1", { maxRetriesPerRequest: 0 }));
    const err = await failure(() => redis.get("k"));
    redis.disconnect();
    expect(err).toMatchObject({ name: "MaxRetriesPerRequestError" });
    expect(isDependencyUnavailable(err)).toBe(true);
  });

  it("a command without an offline queue, the connection error itself, and one after giving up", async () => {
    const noQueue = quiet(new Redis(closedPort, "127.0.0.1", { enableOfflineQueue: false }));
    const notWriteable = await failure(() => noQueue.get("k"));
    noQueue.disconnect();
    expect(notWriteable).toMatchObject({ message: "Stream isn't writeable and enableOfflineQueue options is false" });

    const givingUp = quiet(new Redis(closedPort, "127.0.0.1", { retryStrategy: () => null, lazyConnect: true }));
    const refused = firstError(givingUp);
    const closed = await failure(() => givingUp.get("k"));
    expect(await refused).toMatchObject({ code: "ECONNREFUSED" });
    expect(closed).toMatchObject({ message: "Connection is closed." });

    for (const err of [notWriteable, await refused, closed]) expect(isDependencyUnavailable(err)).toBe(true);
  });

  it("a Redis Cluster without a reachable node (its command error, ClusterAllFailedError)", async () => {
    const cluster = quiet(new Cluster([{ host: "127.0.0.1", port: closedPort }], { clusterRetryStrategy: () => null }));
    const failed = firstError(cluster);
    const err = await failure(() => cluster.get("k"));
    cluster.disconnect();
    expect(err).toMatchObject({ message: "None of startup nodes is available" });
    expect(await failed).toMatchObject({ name: "ClusterAllFailedError" });
    expect(isDependencyUnavailable(err)).toBe(true);
    expect(isDependencyUnavailable(await failed)).toBe(true);
  });

  it("BullMQ adding a job while its Redis is stopped, and its ConnectionClosedError", async () => {
    const server = await startRedisServer({ dir: testDir("redis-dependency-errors") });
    const queue = new Queue("dependency-errors", { connection: { host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 0 } });
    queue.on("error", () => {});
    try {
      await queue.add("job", {});
      await server.stop();
      const err = await failure(() => queue.add("job", {}));
      expect(err).toMatchObject({ name: "MaxRetriesPerRequestError" });
      expect(isDependencyUnavailable(err)).toBe(true);
      expect(isDependencyUnavailable(new ConnectionClosedError())).toBe(true);
    } finally {
      await queue.close().catch(() => {});
      await server.stop();
    }
  });
});

describe("Redis servers that cannot serve", () => {
  it("a replica without its primary answers READONLY and MASTERDOWN; a cluster node without slots CLUSTERDOWN", async () => {
    const replica = await startRedisServer({ dir: testDir("redis-replica"), args: ["--replicaof", "127.0.0.1", String(closedPort)] });
    const dir = testDir("redis-cluster-node");
    const node = await startRedisServer({ dir, args: ["--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf")] });
    const toReplica = quiet(new Redis(replica.url, { maxRetriesPerRequest: 0 }));
    const toNode = quiet(new Redis(node.url, { maxRetriesPerRequest: 0 }));
    try {
      const readOnly = await failure(() => toReplica.set("k", "v"));
      await toReplica.config("SET", "replica-serve-stale-data", "no");
      const masterDown = await failure(() => toReplica.get("k"));
      const clusterDown = await failure(() => toNode.get("k"));
      expect(readOnly).toMatchObject({ name: "ReplyError", message: expect.stringMatching(/^READONLY /) });
      expect(masterDown).toMatchObject({ name: "ReplyError", message: expect.stringMatching(/^MASTERDOWN /) });
      expect(clusterDown).toMatchObject({ name: "ReplyError", message: expect.stringMatching(/^CLUSTERDOWN /) });
      for (const err of [readOnly, masterDown, clusterDown]) expect(isDependencyUnavailable(err)).toBe(true);
      // Not an outage: a wrong command is a bug.
      expect(isDependencyUnavailable(await failure(() => toReplica.call("NOSUCHCOMMAND")))).toBe(false);
    } finally {
      toReplica.disconnect();
      toNode.disconnect();
      await Promise.all([replica.stop(), node.stop()]);
    }
  });

  it("the replies of a server loading its data set or resharding, as ioredis reports them", () => {
    expect(isDependencyUnavailable(new ReplyError("LOADING Redis is loading the dataset in memory"))).toBe(true);
    expect(isDependencyUnavailable(new ReplyError("TRYAGAIN Multiple keys request during rehashing of slot"))).toBe(true);
    expect(isDependencyUnavailable(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"))).toBe(false);
    expect(isDependencyUnavailable(new ReplyError("ERR Error running script: user_script:1: loading failed"))).toBe(false);
  });
});

describe("mongoose and the MongoDB driver", () => {
  let ferret: FerretDb;
  let connection: Connection;

  beforeAll(async () => {
    ferret = await startFerretDb({ dataDir: testDir("ferretdb-dependency-errors") });
    connection = await mongoose.createConnection(`${ferret.uri}dependency_errors`, { serverSelectionTimeoutMS: 1_000, bufferCommands: false }).asPromise();
  });
  afterAll(async () => {
    await connection?.close().catch(() => {});
    await ferret?.stop();
  });

  it("no server to select at connect; an operation before the first connection, or buffered too long", async () => {
    const url = `mongodb://127.0.0.1:${closedPort}/x`;
    const selection = await failure(() => mongoose.createConnection(url, { serverSelectionTimeoutMS: 200 }).asPromise());
    expect(selection).toMatchObject({ name: "MongooseServerSelectionError" });

    const unbuffered = mongoose.createConnection(url, { serverSelectionTimeoutMS: 200, bufferCommands: false });
    unbuffered.on("error", () => {});
    const early = await failure(() => unbuffered.model("T", new mongoose.Schema({ a: Number })).exists({ a: 1 }));
    const buffered = mongoose.createConnection(url, { serverSelectionTimeoutMS: 200 });
    buffered.on("error", () => {});
    const timedOut = await failure(() => buffered.model("T", new mongoose.Schema({ a: Number }, { bufferTimeoutMS: 100 })).exists({ a: 1 }));
    await Promise.all([unbuffered.close(), buffered.close()]).catch(() => {});
    expect(early).toMatchObject({ name: "MongooseError", message: expect.stringContaining("before initial connection is complete") });
    expect(timedOut).toMatchObject({ name: "MongooseError", message: expect.stringContaining("buffering timed out") });

    for (const err of [selection, early, timedOut]) expect(isDependencyUnavailable(err)).toBe(true);
  });

  it("a duplicate key and a validation failure are not outages; an operation on a closed connection is", async () => {
    const Thing = connection.model("Thing", new mongoose.Schema({ a: { type: Number, required: true } }));
    const thing = await Thing.create({ a: 1 });
    const duplicate = await failure(() => Thing.create({ _id: thing._id, a: 2 }));
    const invalid = await failure(() => Thing.create({}));
    expect(duplicate).toMatchObject({ name: "MongoServerError", code: 11000 });
    expect(invalid).toMatchObject({ name: "ValidationError" });
    expect(isDependencyUnavailable(duplicate)).toBe(false);
    expect(isDependencyUnavailable(invalid)).toBe(false);

    const other = await mongoose.createConnection(`${ferret.uri}dependency_errors`, { serverSelectionTimeoutMS: 1_000 }).asPromise();
    await other.close();
    const notConnected = await failure(() => other.model("Thing", Thing.schema).exists({ a: 1 }));
    expect(notConnected).toMatchObject({ name: "MongoNotConnectedError" });
    expect(isDependencyUnavailable(notConnected)).toBe(true);
  });

  it("an operation once the server is gone (MongoNetworkError, with its labels and cause)", async () => {
    const Thing = connection.model("Thing");
    await Thing.exists({});
    await ferret.stop();
    const err = await failure(() => Thing.exists({}));
    expect(err).toMatchObject({ name: expect.stringMatching(/^Mongo(Network|ServerSelection)Error$/) });
    expect(isDependencyUnavailable(err)).toBe(true);
  });
});

describe("by shape, through wrappers", () => {
  /** An error of another copy of a library: same name and fields, another class. */
  const foreign = (name: string, fields: object = {}) => Object.assign(new Error("x"), { name }, fields);

  it("recognises a second copy of a driver by name, code and labels", () => {
    class MaxRetriesPerRequestError extends Error {
      override name = "MaxRetriesPerRequestError";
    }
    expect(isDependencyUnavailable(new MaxRetriesPerRequestError("x"))).toBe(true);
    for (const name of ["MongoServerSelectionError", "MongoNetworkError", "MongoNetworkTimeoutError", "MongoNotConnectedError", "MongoPoolClearedError"]) {
      expect(isDependencyUnavailable(foreign(name)), name).toBe(true);
    }
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"]) expect(isDependencyUnavailable(foreign("Error", { code })), code).toBe(true);
    expect(isDependencyUnavailable(foreign("MongoServerError", { code: 91 }))).toBe(true); // ShutdownInProgress
    expect(isDependencyUnavailable(foreign("MongoServerError", { code: 10107 }))).toBe(true); // NotWritablePrimary
    expect(isDependencyUnavailable(foreign("MongoServerError", { errorLabelSet: new Set(["RetryableWriteError"]) }))).toBe(true);
    expect(isDependencyUnavailable(foreign("MongoServerError", { errorLabels: ["TransientTransactionError"] }))).toBe(true);
    // A label or a server code means nothing on an error that is not MongoDB's.
    expect(isDependencyUnavailable(foreign("Error", { code: 91, errorLabels: ["RetryableWriteError"] }))).toBe(false);
    expect(isDependencyUnavailable(foreign("MongoServerError", { code: 2, errorLabels: ["NoWritesPerformed"] }))).toBe(false);
  });

  it("follows cause chains, AggregateError and lastNodeError, and stops at cycles", () => {
    const outage = foreign("MaxRetriesPerRequestError");
    expect(isDependencyUnavailable(new Error("saving failed", { cause: new Error("script failed", { cause: outage }) }))).toBe(true);
    expect(isDependencyUnavailable(new AggregateError([new Error("bug"), outage]))).toBe(true);
    expect(isDependencyUnavailable(foreign("Error", { lastNodeError: foreign("Error", { code: "ECONNRESET" }) }))).toBe(true);
    const cyclic: Error & { cause?: unknown } = new Error("a");
    cyclic.cause = new Error("b", { cause: cyclic });
    expect(isDependencyUnavailable(cyclic)).toBe(false);
    expect(isDependencyUnavailable(new AggregateError([new Error("one"), new TypeError("two")]))).toBe(false);
  });

  it("is false for bugs, refusals and things that are not errors", () => {
    for (const value of [new Error("boom"), new TypeError("x is not a function"), foreign("Error", { code: "ENOENT" }), new ValidationError("bad"), null, undefined, "ECONNREFUSED", 42, {}]) {
      expect(isDependencyUnavailable(value), String(value)).toBe(false);
    }
  });
});

describe("toWireError and httpStatusOf", () => {
  it("answer an outage UNAVAILABLE / 503 with a fixed message, a bug INTERNAL / 500, an AppError its own code", () => {
    const outage = Object.assign(new Error("connect ECONNREFUSED 10.0.0.7:27017 (mongodb://admin:hunter2@db)"), { code: "ECONNREFUSED" });
    expect(toWireError(outage)).toEqual({ code: "UNAVAILABLE", message: "Service temporarily unavailable, retry shortly" });
    expect(httpStatusOf(outage)).toBe(503);
    expect(JSON.stringify(toWireError(new Error("x", { cause: outage })))).not.toContain("hunter2");
    expect(toWireError(new Error("boom"))).toEqual({ code: "INTERNAL", message: "Internal error" });
    expect(httpStatusOf(new Error("boom"))).toBe(500);
    // An AppError keeps its code even when it wraps an outage.
    const refusal = new ValidationError("bad", []);
    Object.assign(refusal, { cause: outage });
    expect(toWireError(refusal)).toMatchObject({ code: "VALIDATION" });
    expect(httpStatusOf(refusal)).toBe(400);
  });
});

describe("the object store (AWS SDK)", () => {
  it("a store that does not answer, and a failure on its side; not a refusal", async () => {
    const port = await freePort();
    const storage = new ObjectStorage("bucket", {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_REGION: "us-east-1",
      S3_ACCESS_KEY_ID: "key",
      S3_SECRET_ACCESS_KEY: "secret",
      S3_FORCE_PATH_STYLE: true,
    });
    try {
      const err = await storage.head("some/key").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(isDependencyUnavailable(err)).toBe(true);
      expect(toWireError(err).code).toBe("UNAVAILABLE");
    } finally {
      storage.close();
    }
    const serverSide = new S3ServiceException({ name: "SlowDown", $fault: "server", $metadata: { httpStatusCode: 503 }, message: "Please reduce your request rate." });
    expect(isDependencyUnavailable(serverSide)).toBe(true);
    const refusal = new S3ServiceException({ name: "AccessDenied", $fault: "client", $metadata: { httpStatusCode: 403 }, message: "Access Denied" });
    expect(isDependencyUnavailable(refusal)).toBe(false);
  });
});
