/**
 * The consumer of the `accounts` queue: work on a whole account, one job at a time per account. Its
 * only job, `erase-messages`, erases a deleted account's messages ({@link MessageEraser}); a failure
 * is retried with {@link backoffDelay}, a job that can never succeed fails at once.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";

import type { Logger } from "@parley/shared/logger";
import { QUEUE_NAMES, backoffDelay, type AccountJobName, type AccountJobs } from "@parley/shared/queues";
import { EraseMessagesJobData } from "@parley/shared/schemas";

import { lockOptions, parseJobData, reportJobFailures, type JobLocks } from "../jobs.js";
import type { WorkerMetrics } from "../metrics.js";
import { AccountNotDeletedError, UnknownAccountError, type MessageEraser } from "./message-eraser.js";

/** A job of the accounts queue. */
export type AccountJob = Job<AccountJobs[AccountJobName], void, AccountJobName>;

/** The BullMQ worker of the accounts queue. */
export type AccountsWorker = Worker<AccountJobs[AccountJobName], void, AccountJobName>;

/** What the accounts consumer needs. */
export interface AccountsWorkerDeps {
  /** Redis connection for BullMQ (`maxRetriesPerRequest: null`); left open on close. */
  connection: ConnectionOptions;
  /** BullMQ key prefix, the producers' `QUEUE_PREFIX`. */
  prefix: string;
  eraser: MessageEraser;
  log: Logger;
  /** Retries and final failures. */
  metrics: WorkerMetrics;
  /**
   * Jobs at once. Each one is a long series of small Redis and MongoDB steps.
   * @default 2
   */
  concurrency?: number;
  /** @default DEFAULT_JOB_LOCKS */
  locks?: JobLocks | undefined;
}

/** Starts consuming the accounts queue. */
export function createAccountsWorker({ connection, prefix, eraser, log, metrics, concurrency = 2, locks }: AccountsWorkerDeps): AccountsWorker {
  const worker: AccountsWorker = new Worker<AccountJobs[AccountJobName], void, AccountJobName>(
    QUEUE_NAMES.accounts,
    async (job) => {
      if (job.name !== "erase-messages") throw new UnrecoverableError(`unknown job name '${job.name}'`);
      const { userId } = parseJobData(EraseMessagesJobData, job, job.name);
      try {
        const done = await eraser.erase(userId, (progress) => job.updateProgress({ ...progress }));
        log.info({ jobId: job.id, userId, ...done }, "messages of a deleted account erased");
      } catch (err) {
        if (err instanceof UnknownAccountError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    {
      connection,
      prefix,
      concurrency,
      ...lockOptions(locks),
      // ACCOUNT_JOB_OPTIONS use `backoff: { type: "custom" }`, which resolves to this strategy.
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade) },
    },
  );
  worker.on("error", (err) => log.error({ err }, "accounts worker error"));
  // The erasure queued just before the account's tombstone is written waits for it: not worth a warning.
  reportJobFailures(worker, QUEUE_NAMES.accounts, { metrics, log, what: "account job", quiet: (err) => err instanceof AccountNotDeletedError });
  return worker;
}
