/** What every consumer of the worker does with its jobs' data and failures. */
import { UnrecoverableError, type Job } from "bullmq";

import type { Logger } from "@parley/shared/logger";
import type { QUEUE_NAMES } from "@parley/shared/queues";

import type { WorkerMetrics } from "./metrics.js";
import type { z } from "zod";

import { fieldIssues } from "@parley/shared/schemas";

/**
 * How long a job stays with a worker that stopped renewing its lock (one that died), and how often the
 * others look for such jobs: a job held by a dead worker is handed out again within about
 * `lockMs + stalledCheckMs`.
 */
export interface JobLocks {
  /** BullMQ's `lockDuration`; a live worker renews its locks every half of it. */
  lockMs: number;
  /** BullMQ's `stalledInterval`. */
  stalledCheckMs: number;
}

/**
 * 5 s locks and a check every 2.5 s: a dead worker's jobs go to another within about 7.5 s, where
 * BullMQ's defaults (30 s and 30 s) took up to a minute. A live worker loses a lock only when its event
 * loop is blocked for more than 2.5 s, and every job of the worker is idempotent, so the price of such a
 * stall is work done twice, never a message lost or doubled.
 */
export const DEFAULT_JOB_LOCKS: JobLocks = { lockMs: 5000, stalledCheckMs: 2500 };

/**
 * Times a job may be handed out again after its worker died before it fails for good: more than one,
 * so that a job is not failed for a worker that was killed twice in a row (a crash loop, a rollout).
 */
const MAX_STALLS = 5;

/** The BullMQ worker options of `locks`. */
export function lockOptions(locks: JobLocks = DEFAULT_JOB_LOCKS): { lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  return { lockDuration: locks.lockMs, stalledInterval: locks.stalledCheckMs, maxStalledCount: MAX_STALLS };
}

/**
 * A job's data parsed with `schema`; data that can never be valid fails the job for good, with an
 * `UnrecoverableError` saying `invalid <what> job data: <field: problem; …>`.
 */
export function parseJobData<S extends z.ZodType>(schema: S, job: Pick<Job, "data">, what: string): z.output<S> {
  const parsed = schema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  const summary = fieldIssues(parsed.error)
    .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
    .join("; ");
  throw new UnrecoverableError(`invalid ${what} job data: ${summary}`);
}

/** Whether a failed attempt was the job's last: it will not be retried and stays in the failed set. */
export function isFinalFailure(job: Pick<Job, "attemptsMade" | "opts"> | undefined, err: Error): boolean {
  if (err instanceof UnrecoverableError || err.name === "UnrecoverableError") return true;
  // BullMQ has already counted this attempt in attemptsMade when it emits `failed`.
  return job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
}

/** The `failed` events of a BullMQ worker, whatever its job types. */
interface FailureSource {
  on(event: "failed", listener: (job: Job | undefined, err: Error) => void): unknown;
}

/**
 * Counts and logs every failed attempt of `worker`'s jobs: a warning while it will be retried, an error
 * once it failed for good (it then stays in the failed set). `quiet` says which failures are expected
 * and logged at debug instead of warn.
 */
export function reportJobFailures(
  worker: FailureSource,
  queue: (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES],
  { metrics, log, what, quiet }: { metrics: Pick<WorkerMetrics, "jobFailed">; log: Logger; what: string; quiet?: (err: Error) => boolean },
): void {
  worker.on("failed", (job, err) => {
    const final = isFinalFailure(job, err);
    metrics.jobFailed(queue, final);
    const fields = { err, jobId: job?.id, jobName: job?.name, attemptsMade: job?.attemptsMade };
    if (final) log.error(fields, `${what} failed for good; it stays in the failed set for an operator to retry`);
    else if (quiet?.(err)) log.debug(fields, `${what} waits; it will be retried`);
    else log.warn(fields, `${what} failed; it will be retried`);
  });
}
