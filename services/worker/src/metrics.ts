/**
 * The worker's Prometheus metrics, on a registry the caller owns: `index.ts` serves the process's
 * registry on `METRICS_PORT`; tests use one of their own. The recorders never throw.
 */
import type { Logger } from "@parley/shared/logger";
import {
  Counter,
  Gauge,
  Histogram,
  LAG_BUCKETS,
  LATENCY_BUCKETS,
  redisErrorsCounter,
  type Registry,
} from "@parley/shared/metrics";
import { QUEUE_NAMES, type PersistJobName } from "@parley/shared/queues";
import type { Message } from "@parley/protocol";

/** A queue the worker drains. */
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** What is written to MongoDB in batches: one kind per persist job name. */
export type BatchKind = PersistJobName;

/** What became of one delivery attempt of a notification. */
export type NotificationOutcome = "delivered" | "retried" | "failed";

/** The job states `parley_queue_jobs` reports. */
export const JOB_STATES = ["waiting", "active", "delayed", "failed"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Anything that counts a queue's jobs by state, like a BullMQ `Queue`. */
export interface JobCountSource {
  getJobCounts(...states: JobState[]): Promise<Record<string, number>>;
}

const BATCH_KINDS: readonly BatchKind[] = ["message", "pointer", "last-seen"];
const QUEUES: readonly QueueName[] = [QUEUE_NAMES.persist, QUEUE_NAMES.notifications, QUEUE_NAMES.accounts, QUEUE_NAMES.attachments];
const NOTIFICATION_OUTCOMES: readonly NotificationOutcome[] = ["delivered", "retried", "failed"];

/** Batch sizes from 1 to the largest `PERSIST_BATCH_SIZE` (10 000). */
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];

/** Longest a scrape waits for the job counts of one queue. */
const JOB_COUNT_TIMEOUT_MS = 2_000;
/** How often, at most, a failure to count jobs is logged. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/** Every metric the worker records, and the recorders the rest of the worker calls. */
export class WorkerMetrics {
  /**
   * `parley_queue_jobs{queue,state}`: jobs of each queue by state, read from Redis at scrape time.
   * Every worker reports the same numbers: aggregate over workers with `max`, not `sum`.
   */
  readonly queueJobs: Gauge<"queue" | "state">;
  /** `parley_worker_persist_lag_seconds`: from a new message's `createdAt` to its batch being stored. */
  readonly persistLag: Histogram;
  /** `parley_worker_batch_size{kind}`: items per MongoDB write. */
  readonly batchSize: Histogram<"kind">;
  /** `parley_worker_mongo_write_duration_seconds{kind}`: duration of each batch write, failed ones included. */
  readonly mongoWriteDuration: Histogram<"kind">;
  /** `parley_worker_job_retries_total{queue}`: failed attempts that BullMQ will retry. */
  readonly jobRetries: Counter<"queue">;
  /** `parley_worker_jobs_failed_total{queue}`: jobs that failed for good (left in the failed set). */
  readonly jobsFailed: Counter<"queue">;
  /** `parley_worker_notifications_total{outcome}`: notification delivery attempts by outcome. */
  readonly notifications: Counter<"outcome">;
  /** `parley_redis_errors_total{client}`: pass to `createRedis` as `errors`. */
  readonly redisErrors: Counter<"client">;

  private readonly jobCountSources = new Map<QueueName, JobCountSource>();
  private lastFailureLog = -Infinity;

  constructor(
    registry: Registry,
    private readonly log?: Logger,
  ) {
    const registers = [registry];
    this.queueJobs = new Gauge({
      name: "parley_queue_jobs",
      help: "Jobs of each queue by state (waiting, active, delayed, failed), read at scrape time.",
      labelNames: ["queue", "state"],
      registers,
      collect: () => this.collectJobCounts(),
    });
    this.persistLag = new Histogram({
      name: "parley_worker_persist_lag_seconds",
      help: "Time from a message's server timestamp to its storage in MongoDB.",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: "parley_worker_batch_size",
      help: "Items per MongoDB batch write, by kind (message, pointer, last-seen).",
      labelNames: ["kind"],
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.mongoWriteDuration = new Histogram({
      name: "parley_worker_mongo_write_duration_seconds",
      help: "Duration of MongoDB batch writes, by kind (message, pointer, last-seen).",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.jobRetries = new Counter({
      name: "parley_worker_job_retries_total",
      help: "Failed job attempts that will be retried, by queue.",
      labelNames: ["queue"],
      registers,
    });
    this.jobsFailed = new Counter({
      name: "parley_worker_jobs_failed_total",
      help: "Jobs that failed for good and stay in the failed set, by queue.",
      labelNames: ["queue"],
      registers,
    });
    this.notifications = new Counter({
      name: "parley_worker_notifications_total",
      help: "Notification delivery attempts, by outcome (delivered, retried, failed).",
      labelNames: ["outcome"],
      registers,
    });
    this.redisErrors = redisErrorsCounter(registry);

    // Every series exists from the start, at zero: the first failure is then an increase that
    // increase() and the alert on failed jobs can see, and the dashboard shows 0 instead of no data.
    for (const queue of QUEUES) {
      this.jobRetries.inc({ queue }, 0);
      this.jobsFailed.inc({ queue }, 0);
    }
    for (const outcome of NOTIFICATION_OUTCOMES) this.notifications.inc({ outcome }, 0);
    for (const kind of BATCH_KINDS) {
      this.batchSize.zero({ kind });
      this.mongoWriteDuration.zero({ kind });
    }
  }

  /** Reports `queue`'s job counts at each scrape from `source`, until {@link stopCountingJobs}. */
  countJobsOf(queue: QueueName, source: JobCountSource): void {
    this.jobCountSources.set(queue, source);
  }

  /** Stops reading job counts (the queues are closing). */
  stopCountingJobs(): void {
    this.jobCountSources.clear();
  }

  /**
   * Writes one batch of `size` items of `kind` with `write`, recording its size and its duration
   * (whether it succeeds or fails). Resolves or rejects as `write` does.
   */
  async timeBatch<R>(kind: BatchKind, size: number, write: () => Promise<R>): Promise<R> {
    this.batchSize.observe({ kind }, size);
    const started = performance.now();
    try {
      return await write();
    } finally {
      this.mongoWriteDuration.observe({ kind }, (performance.now() - started) / 1000);
    }
  }

  /** `messages` were stored just now: their persistence lag, for new messages (a revision's `createdAt` is old). */
  messagesStored(messages: readonly Message[], now = Date.now()): void {
    for (const message of messages) {
      if (message.rev) continue;
      const created = Date.parse(message.createdAt);
      if (Number.isFinite(created)) this.persistLag.observe(Math.max(0, now - created) / 1000);
    }
  }

  /** A job of `queue` failed an attempt; `final` when it will not be retried. */
  jobFailed(queue: QueueName, final: boolean): void {
    (final ? this.jobsFailed : this.jobRetries).inc({ queue });
  }

  /** A notification delivery attempt ended with `outcome`. */
  notification(outcome: NotificationOutcome): void {
    this.notifications.inc({ outcome });
  }

  /**
   * Sets `parley_queue_jobs` from every registered source. A queue whose counts cannot be read (Redis
   * down or slow) has no series in this scrape rather than stale numbers; the scrape itself succeeds.
   */
  private async collectJobCounts(): Promise<void> {
    const sources = [...this.jobCountSources];
    const results = await Promise.allSettled(sources.map(([, source]) => withTimeout(source.getJobCounts(...JOB_STATES))));
    this.queueJobs.reset();
    results.forEach((result, i) => {
      const queue = sources[i]![0];
      if (result.status === "rejected") {
        this.logFailure(result.reason, queue);
        return;
      }
      for (const state of JOB_STATES) this.queueJobs.set({ queue, state }, result.value[state] ?? 0);
    });
  }

  private logFailure(err: unknown, queue: QueueName): void {
    const now = performance.now();
    if (now - this.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLog = now;
    this.log?.warn({ err, queue }, "job counts not read for parley_queue_jobs");
  }
}

function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${JOB_COUNT_TIMEOUT_MS} ms`)), JOB_COUNT_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
