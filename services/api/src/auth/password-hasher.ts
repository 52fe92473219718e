/**
 * The API's one way to scrypt: a bound on how many password hashes run at once in this process, with a
 * short queue in front, so that a burst of logins or registrations costs a fixed amount of CPU and
 * memory (scrypt at N = 2^15 takes 32 MiB and one of libuv's four threads for ~50–100 ms) instead of
 * piling up until every request times out.
 *
 * A request that finds every slot busy waits in the queue, for at most `maxWaitMs`; one that finds the
 * queue full, or waits longer, is refused at once with `503 UNAVAILABLE` and a `retryAfterMs`, before
 * any hashing: the caller may retry, and never sits behind minutes of other people's hashes.
 */
import { hashPassword, verifyNoPassword, verifyPassword } from "@parley/shared/auth";
import { UnavailableError } from "@parley/shared/errors";
import type { Counter, Gauge } from "@parley/shared/metrics";

/** Why a hash was refused: the queue was full, or the wait in it reached `maxWaitMs`. */
export type HashRefusal = "queue_full" | "wait_timeout";

/** Where a {@link PasswordHasher} reports its state (see `ApiMetrics`). */
export interface PasswordHasherMetrics {
  /** Hashes running now. */
  inFlight: Gauge;
  /** Hashes waiting for a slot. */
  waiting: Gauge;
  /** Hashes refused, by {@link HashRefusal}. */
  refusals: Counter<"reason">;
}

/** Options of a {@link PasswordHasher}. */
export interface PasswordHasherOptions {
  /**
   * Hashes at once. scrypt runs on libuv's thread pool (four threads unless `UV_THREADPOOL_SIZE` says
   * otherwise), so this also leaves threads for file and DNS work.
   * @default 2
   */
  concurrency?: number;
  /**
   * Hashes waiting for a slot; one more is refused at once.
   * @default 16
   */
  maxQueue?: number;
  /**
   * Longest wait for a slot, in milliseconds; a hash still waiting then is refused.
   * @default 3000
   */
  maxWaitMs?: number;
  /**
   * The `retryAfterMs` of a refusal.
   * @default 1000
   */
  retryAfterMs?: number;
  metrics?: PasswordHasherMetrics;
}

interface Waiter {
  start(): void;
  timer: NodeJS.Timeout;
}

/** A bounded queue of password hashes; see the module comment. */
export class PasswordHasher {
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly maxWaitMs: number;
  private readonly retryAfterMs: number;
  private readonly queue: Waiter[] = [];
  private running = 0;

  constructor(private readonly options: PasswordHasherOptions = {}) {
    this.concurrency = options.concurrency ?? 2;
    this.maxQueue = options.maxQueue ?? 16;
    this.maxWaitMs = options.maxWaitMs ?? 3000;
    this.retryAfterMs = options.retryAfterMs ?? 1000;
    if (!(this.concurrency >= 1)) throw new RangeError("PasswordHasher: concurrency must be at least 1");
  }

  /** Hashes running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Hashes waiting for a slot now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** A new scrypt hash of `password`. @throws {UnavailableError} when refused. */
  hash(password: string): Promise<string> {
    return this.run(() => hashPassword(password));
  }

  /** Whether `password` matches `hash`. @throws {UnavailableError} when refused. */
  verify(password: string, hash: string): Promise<boolean> {
    return this.run(() => verifyPassword(password, hash));
  }

  /**
   * The same work as {@link verify} on a hash of no password, for a user that does not exist, so that
   * it cannot be told from a wrong password. @throws {UnavailableError} when refused.
   */
  verifyNone(password: string): Promise<false> {
    return this.run(() => verifyNoPassword(password));
  }

  /**
   * Runs `work` (one hash) in a slot, waiting for one if needed. The slot is released however `work`
   * ends, and `work`'s own failure is passed on.
   * @throws {UnavailableError} with `retryAfterMs`, without running `work`, when the queue is full or
   * the wait reaches `maxWaitMs`.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await this.slot();
    else this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.queue.length >= this.maxQueue) return Promise.reject(this.refuse("queue_full"));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          this.acquire();
          resolve();
        },
        timer: setTimeout(() => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          this.updateWaiting();
          reject(this.refuse("wait_timeout"));
        }, this.maxWaitMs),
      };
      this.queue.push(waiter);
      this.updateWaiting();
    });
  }

  private acquire(): void {
    this.running += 1;
    this.options.metrics?.inFlight.set(this.running);
  }

  private release(): void {
    this.running -= 1;
    this.options.metrics?.inFlight.set(this.running);
    const next = this.queue.shift();
    if (next) {
      this.updateWaiting();
      next.start();
    }
  }

  private updateWaiting(): void {
    this.options.metrics?.waiting.set(this.queue.length);
  }

  private refuse(reason: HashRefusal): UnavailableError {
    this.options.metrics?.refusals.inc({ reason });
    return new UnavailableError("Too many password checks at once, retry shortly", { retryAfterMs: this.retryAfterMs });
  }
}
