/** What every consumer of the worker does with its jobs' data and failures. */
import { UnrecoverableError, type Job } from "bullmq";

import type { Logger } from "@parley/shared/logger";
import type { QUEUE_NAMES } from "@parley/shared/queues";

import type { WorkerMetrics } from "./metrics.js";
import type { z } from "zod";

import { fieldIssues } from "@parley/shared/schemas";

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
