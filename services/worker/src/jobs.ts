/** What every consumer of the worker does with its jobs' data and failures. */
import { UnrecoverableError, type Job } from "bullmq";
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
