/** The worker's settings, read from the environment once, by `index.ts`. */
import { z } from "zod";

import { baseConfigShape, checkRedisConfig, intVar, pipelineConfigShape } from "@parley/shared/config";
import { attachmentConfigShape } from "@parley/shared/attachments/attachment-rules";
import { checkStorageConfig, storageConfigShape } from "@parley/shared/attachments/storage";
import { metricsConfigShape } from "@parley/shared/metrics";

import { checkNotifyConfig, notifyConfigShape } from "./notify/notify.config.js";

/** Settings of the worker alone. */
const workerShape = {
  /**
   * Port of the internal HTTP server (`/healthz`, `/readyz`); never routed by nginx.
   * @default 4100
   */
  PORT: intVar(0).max(65_535).default(4100),
  /**
   * Address the internal HTTP server binds to.
   * @default "0.0.0.0"
   */
  HOST: z.string().min(1).default("0.0.0.0"),
  /**
   * Most messages written to MongoDB in one bulk write. It is also the BullMQ concurrency, so that
   * enough jobs are active at once for a batch to fill.
   * @default 500
   */
  PERSIST_BATCH_SIZE: intVar(1).max(10_000).default(500),
  /**
   * Longest a message waits for its batch to fill before the batch is written anyway, in milliseconds.
   * @default 20
   */
  PERSIST_BATCH_WAIT_MS: intVar(0).max(60_000).default(20),
  /**
   * Most batches of each kind written to MongoDB at once. A batch that is due while this many are
   * being written keeps filling until one finishes, so that under load batches grow instead of
   * queueing up (fewer, larger writes: see README, "Performance").
   * @default 2
   */
  PERSIST_MAX_CONCURRENT_WRITES: intVar(1).max(100).default(2),
  /**
   * How long a conversation's recent messages stay in Redis after its last activity, in seconds: the
   * same value as the gateways' and the API's, since a message the worker erases keeps its deleted
   * state in Redis for that long.
   * @default 604800
   */
  STREAM_TTL_SECONDS: pipelineConfigShape.STREAM_TTL_SECONDS,
  /**
   * How often the worker looks for attachments that no message claimed within
   * `ATTACHMENT_ORPHAN_TTL_SECONDS`, and deletes them, in seconds.
   * @default 3600
   */
  ATTACHMENT_SWEEP_INTERVAL_SECONDS: intVar(1).default(3600),
  /**
   * How long a job stays locked by a worker that stopped renewing the lock, in milliseconds: when a
   * worker dies (a crash, SIGKILL, a lost node), its jobs go to another worker within about
   * `JOB_LOCK_MS + JOB_STALLED_CHECK_MS`. A live worker renews its locks every half of it, so only an
   * event loop blocked that long makes a job run twice (every job is idempotent).
   * @default 5000
   */
  JOB_LOCK_MS: intVar(1000).max(600_000).default(5000),
  /**
   * How often each worker looks for jobs whose lock expired, in milliseconds.
   * @default 2500
   */
  JOB_STALLED_CHECK_MS: intVar(500).max(600_000).default(2500),
  /**
   * Hard deadline of a graceful shutdown (finish the active batch, close every connection), in
   * milliseconds; past it the process exits with status 1.
   * @default 30000
   */
  SHUTDOWN_TIMEOUT_MS: intVar(1000).default(30_000),
} as const;

/**
 * The worker's environment: the settings every service shares, except the JWT secret (the worker
 * never signs nor verifies a token, so it is not handed one), and its own.
 */
export const workerConfigSchema = z
  .object(baseConfigShape)
  .omit({ JWT_SECRET: true })
  .extend(workerShape)
  .extend(metricsConfigShape)
  .extend(notifyConfigShape)
  .extend(storageConfigShape)
  .extend(attachmentConfigShape)
  // Checked even when other variables are invalid, so that every problem is reported at once.
  .superRefine(checkNotifyConfig, { when: () => true })
  .superRefine(checkRedisConfig, { when: () => true })
  .superRefine(checkStorageConfig, { when: () => true });

/** The worker's validated configuration. */
export type WorkerConfig = z.output<typeof workerConfigSchema>;
