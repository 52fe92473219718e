/**
 * The password hasher's bound, without scrypt where the work can be a promise the test controls: at
 * most `concurrency` at once, a queue of at most `maxQueue`, a wait of at most `maxWaitMs`, and a slot
 * released however the work ends. Then once with real scrypt.
 */
import { describe, expect, it } from "vitest";

import { UnavailableError } from "@parley/shared/errors";
import { Registry } from "@parley/shared/metrics";

import { ApiMetrics } from "../metrics.js";
import { PasswordHasher } from "./password-hasher.js";

/** A unit of work that reports when it starts and ends when the test says so. */
function job<T = string>() {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let finish!: (value: T) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<T>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let calls = 0;
  return {
    work: () => {
      calls += 1;
      markStarted();
      return done;
    },
    started,
    finish,
    fail,
    get calls() {
      return calls;
    },
  };
}

function hasherWithMetrics(options: ConstructorParameters<typeof PasswordHasher>[0]) {
  const registry = new Registry();
  const metrics = new ApiMetrics(registry);
  const hasher = new PasswordHasher({ ...options, metrics: metrics.passwordHashes });
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  return { hasher, value };
}

async function refusal(promise: Promise<unknown>): Promise<UnavailableError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnavailableError);
  return err as UnavailableError;
}

describe("PasswordHasher", () => {
  it("runs at most `concurrency` at once; the next waiting one starts when a slot frees", async () => {
    const { hasher, value } = hasherWithMetrics({ concurrency: 2, maxQueue: 4, maxWaitMs: 60_000 });
    const [a, b, c] = [job(), job(), job()];
    const runs = [a, b, c].map((j) => hasher.run(j.work));
    await Promise.all([a.started, b.started]);
    expect(c.calls).toBe(0);
    expect([hasher.inFlight, hasher.waiting]).toEqual([2, 1]);
    expect(await value("parley_api_password_hashes_in_flight")).toBe(2);
    expect(await value("parley_api_password_hashes_waiting")).toBe(1);

    a.finish("a");
    await c.started;
    expect([hasher.inFlight, hasher.waiting]).toEqual([2, 0]);
    b.finish("b");
    c.finish("c");
    expect(await Promise.all(runs)).toEqual(["a", "b", "c"]);
    expect([hasher.inFlight, hasher.waiting]).toEqual([0, 0]);
    expect(await value("parley_api_password_hashes_in_flight")).toBe(0);
  });

  it("refuses at once, without running it, a hash that finds the queue full", async () => {
    const { hasher, value } = hasherWithMetrics({ concurrency: 1, maxQueue: 1, maxWaitMs: 60_000, retryAfterMs: 1500 });
    const [running, queued, refused] = [job(), job(), job()];
    const runs = [hasher.run(running.work), hasher.run(queued.work)];
    await running.started;

    const err = await refusal(hasher.run(refused.work));
    expect(err.toWire()).toEqual({ code: "UNAVAILABLE", message: expect.any(String), retryAfterMs: 1500 });
    expect(err.status).toBe(503);
    expect(refused.calls).toBe(0);
    expect(await value("parley_api_password_hash_refusals_total", { reason: "queue_full" })).toBe(1);
    expect([hasher.inFlight, hasher.waiting]).toEqual([1, 1]);

    running.finish("1");
    await queued.started;
    queued.finish("2");
    expect(await Promise.all(runs)).toEqual(["1", "2"]);
  });

  it("refuses a hash that waited `maxWaitMs` for a slot, and leaves the queue", async () => {
    const { hasher, value } = hasherWithMetrics({ concurrency: 1, maxQueue: 4, maxWaitMs: 20 });
    const running = job();
    const slow = hasher.run(running.work);
    await running.started;
    const waiting = job();

    await refusal(hasher.run(waiting.work));
    expect(waiting.calls).toBe(0);
    expect(hasher.waiting).toBe(0);
    expect(await value("parley_api_password_hashes_waiting")).toBe(0);
    expect(await value("parley_api_password_hash_refusals_total", { reason: "wait_timeout" })).toBe(1);

    // The refused one never takes the slot: the next hash runs as soon as the first one ends.
    running.finish("done");
    expect(await slow).toBe("done");
    const next = job();
    const run = hasher.run(next.work);
    await next.started;
    next.finish("next");
    expect(await run).toBe("next");
  });

  it("releases the slot when the work fails, and passes the failure on", async () => {
    const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 1, maxWaitMs: 60_000 });
    const [failing, after] = [job(), job()];
    const failed = hasher.run(failing.work);
    const queued = hasher.run(after.work);
    await failing.started;
    failing.fail(new Error("scrypt exploded"));
    await expect(failed).rejects.toThrow("scrypt exploded");
    await after.started;
    after.finish("ok");
    expect(await queued).toBe("ok");
    expect([hasher.inFlight, hasher.waiting]).toEqual([0, 0]);

    // A synchronous throw releases the slot too.
    await expect(
      hasher.run(() => {
        throw new Error("at once");
      }),
    ).rejects.toThrow("at once");
    expect(hasher.inFlight).toBe(0);
  });

  it("hashes and verifies passwords with scrypt, and spends a check on no password", async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash("correct horse battery");
    expect(hash).toMatch(/^scrypt\$/);
    expect(await hasher.verify("correct horse battery", hash)).toBe(true);
    expect(await hasher.verify("wrong", hash)).toBe(false);
    expect(await hasher.verifyNone("correct horse battery")).toBe(false);
    expect(hasher.inFlight).toBe(0);
  });
});
