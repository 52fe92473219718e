/**
 * The consumer of the persist queue: validates each job, stores its message in a batch with the
 * messages of the other active jobs, and confirms persistence to the conversation's sockets.
 */
import type { Emitter } from "@socket.io/redis-emitter";
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";

import { Message, type ServerToClientEvents } from "@parley/protocol";
import { conversationRoom } from "@parley/shared/events";
import type { Logger } from "@parley/shared/logger";
import {
  QUEUE_NAMES,
  backoffDelay,
  type LastSeenJob,
  type PersistJobName,
  type PersistJobs,
  type PointerJob,
} from "@parley/shared/queues";
import type { StoredMarks } from "@parley/shared/messages/stored-marks";
import { LastSeenJobData, PointerJobData } from "@parley/shared/schemas";

import { isFinalFailure, lockOptions, parseJobData, type JobLocks } from "../jobs.js";
import type { BatchKind, WorkerMetrics } from "../metrics.js";
import { Batcher, type ItemOutcome } from "./batcher.js";
import { SeqConflictError, type MessageStore } from "./message-store.js";
import type { StateStore } from "./state-store.js";

/** A job of the persist queue. */
export type PersistJob = Job<PersistJobs[PersistJobName], void, PersistJobName>;

/** What the persist worker needs. */
export interface PersistWorkerDeps {
  /**
   * Redis connection of the BullMQ worker, with `maxRetriesPerRequest: null` (`createRedis` with
   * `blocking: true`). BullMQ duplicates it for its blocking commands and leaves it open on close.
   */
  connection: ConnectionOptions;
  /** BullMQ key prefix, the producers' `QUEUE_PREFIX`. */
  prefix: string;
  store: MessageStore;
  /** Pointers and last-seen times. */
  state: StateStore;
  /** Where a written batch is marked stored, for `sync` and history; part of the write (a failure retries it). */
  marks: StoredMarks;
  emitter: Emitter<ServerToClientEvents>;
  log: Logger;
  /** Most messages per MongoDB write; also the number of jobs processed at once. */
  batchSize: number;
  /** Longest a message waits for its batch to fill, in milliseconds. */
  batchWaitMs: number;
  /** Most batches of each kind written at once; a due batch keeps filling meanwhile. */
  maxConcurrentWrites: number;
  /** Batch sizes, write durations, persistence lag, retries and final failures. */
  metrics: WorkerMetrics;
  /**
   * Post-write hook: called after each batch of messages is stored, with the messages of the batch that
   * are stored (new messages and revisions alike). It runs on the persistence path, so it must return at
   * once (start its work in the background); a throw is logged and ignored. Notifications use it.
   */
  onStored?: (messages: readonly Message[]) => void;
  /** @default DEFAULT_JOB_LOCKS */
  locks?: JobLocks | undefined;
}

/** The running persist consumer. */
export interface PersistWorker {
  /** The BullMQ worker, for listeners (`failed`, `completed`…) and inspection. */
  readonly worker: Worker<PersistJobs[PersistJobName], void, PersistJobName>;
  /**
   * Stops fetching jobs, writes the filling batch at once instead of waiting for it to fill, and
   * resolves when every active job has been written and settled. Connections are left open.
   */
  close(): Promise<void>;
}

type JobHandlers = { [N in PersistJobName]: (job: PersistJob) => Promise<void> };

/**
 * Starts consuming the persist queue.
 *
 * Every active job waits for its batch, so BullMQ's concurrency is the batch size: with fewer active
 * jobs a batch could never fill. A MongoDB failure rejects every job of the batch, and BullMQ retries
 * each one with {@link backoffDelay}; a job that can never succeed (invalid data, a seq taken by another
 * message) fails at once with an `UnrecoverableError`. Either way it stays in the failed set once it
 * gives up: nothing is dropped silently.
 */
export function createPersistWorker(deps: PersistWorkerDeps): PersistWorker {
  const { store, emitter, log, metrics } = deps;

  const messages = new Batcher<Message>({
    maxSize: deps.batchSize,
    maxWaitMs: deps.batchWaitMs,
    maxConcurrentWrites: deps.maxConcurrentWrites,
    write: async (batch) => {
      const started = performance.now();
      try {
        const outcomes = await metrics.timeBatch("message", batch.length, async () => {
          const written = await store.write(batch);
          // Before any job completes: a message whose job completed is one `sync` reads as stored.
          await deps.marks.mark(batch.filter((_, i) => written[i]?.ok));
          return written;
        });
        metrics.messagesStored(batch.filter((_, i) => outcomes[i]?.ok));
        try {
          deps.onStored?.(batch.filter((_, i) => outcomes[i]?.ok));
        } catch (err) {
          log.error({ err, size: batch.length }, "post-write hook of a message batch failed");
        }
        log.debug({ size: batch.length, ms: Math.round(performance.now() - started) }, "message batch written");
        return outcomes;
      } catch (err) {
        log.warn({ err, size: batch.length }, "message batch not written; its jobs will be retried");
        throw err;
      }
    },
  });

  const batcher = <T>(name: BatchKind, write: (batch: readonly T[]) => Promise<ItemOutcome<void>[]>) =>
    new Batcher<T>({
      maxSize: deps.batchSize,
      maxWaitMs: deps.batchWaitMs,
      maxConcurrentWrites: deps.maxConcurrentWrites,
      write: async (batch) => {
        try {
          return await metrics.timeBatch(name, batch.length, () => write(batch));
        } catch (err) {
          log.warn({ err, size: batch.length }, `${name} batch not written; its jobs will be retried`);
          throw err;
        }
      },
    });
  const pointers = batcher<PointerJob>("pointer", (batch) => deps.state.writePointers(batch));
  const lastSeen = batcher<LastSeenJob>("last-seen", (batch) => deps.state.writeLastSeen(batch));

  const handlers: JobHandlers = {
    message: async (job) => {
      const message = parseJobData(Message, job, job.name);
      try {
        await messages.add(message);
      } catch (err) {
        if (err instanceof SeqConflictError) throw new UnrecoverableError(err.message);
        throw err;
      }
      // Confirmed once, for the message as sent; a later state (edit, delete, reaction) is not news.
      if (!message.rev) confirmPersisted(emitter, message, log);
    },
    pointer: async (job) => {
      await pointers.add(parseJobData(PointerJobData, job, job.name));
    },
    "last-seen": async (job) => {
      await lastSeen.add(parseJobData(LastSeenJobData, job, job.name));
    },
  };

  const worker = new Worker<PersistJobs[PersistJobName], void, PersistJobName>(
    QUEUE_NAMES.persist,
    async (job) => {
      if (!Object.hasOwn(handlers, job.name)) throw new UnrecoverableError(`unknown job name '${job.name}'`);
      await handlers[job.name](job);
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.batchSize,
      ...lockOptions(deps.locks),
      // The producers add jobs with `backoff: { type: "custom" }`, which resolves to this strategy.
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade) },
    },
  );
  worker.on("error", (err) => log.error({ err }, "persist worker error"));
  worker.on("stalled", (jobId) => log.warn({ jobId }, "persist job stalled (its lock expired); BullMQ hands it out again or fails it"));
  worker.on("failed", (job, err) => {
    const final = isFinalFailure(job, err);
    metrics.jobFailed(QUEUE_NAMES.persist, final);
    logFailure(log, job, err, final);
  });

  return {
    worker,
    async close() {
      const closing = worker.close();
      const batchers = [messages, pointers, lastSeen];
      // Without this, the jobs waiting in the filling batches would hold the close for up to batchWaitMs.
      await Promise.all(batchers.map((b) => b.close()));
      await closing;
      // Anything handed over while the worker was closing has been written by now; make sure of it.
      await Promise.all(batchers.map((b) => b.flush()));
    },
  };
}

/** Tells the conversation's sockets, on every gateway, that a message is stored. Fire-and-forget. */
function confirmPersisted(emitter: Emitter<ServerToClientEvents>, message: Message, log: Logger): void {
  const { id, conversationId, seq, clientMsgId } = message;
  try {
    emitter.to(conversationRoom(conversationId)).emit("message:persisted", { id, conversationId, seq, clientMsgId });
  } catch (err) {
    log.warn({ err, messageId: id, conversationId }, "message:persisted not emitted");
  }
}

/** Every failed attempt is logged; the last one, after which the job stays failed, as an error. */
function logFailure(log: Logger, job: PersistJob | undefined, err: Error, final: boolean): void {
  if (!job) {
    log.error({ err }, "persist job failed");
    return;
  }
  const attempts = job.opts.attempts ?? 1;
  const fields = { err, jobId: job.id, jobName: job.name, attemptsMade: job.attemptsMade, attempts };
  if (final) {
    log.error(fields, "persist job failed for good; it stays in the failed set for an operator to retry");
  } else {
    log.warn({ ...fields, retryInMs: job.delay }, "persist job failed; it will be retried");
  }
}
