/**
 * The consumer of the `attachments` queue: describes the attachments of new messages (an image's
 * dimensions and thumbnail, the duration of audio and video) and updates the message, which reaches
 * every member as `message:updated`; deletes the attachments of deleted messages and accounts; and
 * sweeps away uploads that no message claimed in time, on a schedule.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";

import type { Attachments } from "@parley/shared/attachments/attachments";
import { THUMBNAIL_TYPE } from "@parley/shared/attachments/attachments";
import type { ObjectStorage } from "@parley/shared/attachments/storage";
import { NotFoundError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import type { AttachmentDescriptions, MessageChanges } from "@parley/shared/messages/message-changes";
import type { AttachmentDoc, Models } from "@parley/shared/models";
import { QUEUE_NAMES, backoffDelay, type AttachmentJobName, type AttachmentJobs, type AttachmentQueue } from "@parley/shared/queues";
import { ProcessAttachmentsJobData, PurgeAttachmentsJobData, PurgeUserAttachmentsJobData } from "@parley/shared/schemas";

import { lockOptions, parseJobData, reportJobFailures, type JobLocks } from "../jobs.js";
import type { WorkerMetrics } from "../metrics.js";
import { UnreadableMediaError, describeImage, mediaDurationMs } from "./media.js";

type AttachmentJob = Job<AttachmentJobs[AttachmentJobName], void, AttachmentJobName>;

/** The BullMQ worker of the attachments queue. */
export type AttachmentsWorker = Worker<AttachmentJobs[AttachmentJobName], void, AttachmentJobName>;

export interface AttachmentsWorkerDeps {
  /** Redis connection for BullMQ (`maxRetriesPerRequest: null`); left open on close. */
  connection: ConnectionOptions;
  /** BullMQ key prefix, the producers' `QUEUE_PREFIX`. */
  prefix: string;
  /** Where the sweep is scheduled. */
  queue: AttachmentQueue;
  models: Pick<Models, "Attachment">;
  storage: ObjectStorage;
  attachments: Attachments;
  changes: MessageChanges;
  log: Logger;
  metrics: WorkerMetrics;
  /** How often unclaimed uploads are looked for, in milliseconds. */
  sweepEveryMs: number;
  /**
   * Jobs at once. Describing an image decodes it, which takes a core for a moment.
   * @default 2
   */
  concurrency?: number;
  /** @default DEFAULT_JOB_LOCKS */
  locks?: JobLocks | undefined;
}

/**
 * Id of the sweep's scheduler: one for the whole cluster, however many workers run. BullMQ types
 * scheduler ids as job names, so it is the job's name.
 */
const SWEEP_SCHEDULER = "sweep";

/** How long after a failed attempt to schedule the sweep (Redis unavailable at start) it is tried again. */
const SCHEDULE_RETRY_MS = 5000;

/** Starts consuming the attachments queue and schedules the sweep (once per cluster). */
export function createAttachmentsWorker(deps: AttachmentsWorkerDeps): AttachmentsWorker {
  const { connection, prefix, log, metrics, concurrency = 2 } = deps;
  const handlers: { [N in AttachmentJobName]: (job: AttachmentJob) => Promise<void> } = {
    process: (job) => describeMessageAttachments(deps, parseJobData(ProcessAttachmentsJobData, job, job.name)),
    purge: async (job) => {
      const { attachmentIds } = parseJobData(PurgeAttachmentsJobData, job, job.name);
      const deleted = await deps.attachments.purge(attachmentIds);
      log.debug({ jobId: job.id, deleted }, "attachments of a deleted message deleted");
    },
    "purge-user": async (job) => {
      const { userId } = parseJobData(PurgeUserAttachmentsJobData, job, job.name);
      const deleted = await deps.attachments.purgeUser(userId);
      log.info({ jobId: job.id, userId, deleted }, "attachments of a deleted account deleted");
    },
    sweep: async () => {
      let deleted = 0;
      // At most 1000 per round, so one round never holds a huge list.
      for (let round = await deps.attachments.sweepOrphans(); round > 0; round = await deps.attachments.sweepOrphans()) deleted += round;
      if (deleted > 0) log.info({ deleted }, "unclaimed attachments deleted");
    },
  };
  const worker: AttachmentsWorker = new Worker<AttachmentJobs[AttachmentJobName], void, AttachmentJobName>(
    QUEUE_NAMES.attachments,
    async (job) => {
      if (!Object.hasOwn(handlers, job.name)) throw new UnrecoverableError(`unknown job name '${job.name}'`);
      await handlers[job.name](job);
    },
    { connection, prefix, concurrency, ...lockOptions(deps.locks), settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade) } },
  );
  worker.on("error", (err) => log.error({ err }, "attachments worker error"));
  reportJobFailures(worker, QUEUE_NAMES.attachments, { metrics, log, what: "attachment job" });
  let retry: NodeJS.Timeout | undefined;
  const schedule = () => {
    deps.queue
      .upsertJobScheduler(SWEEP_SCHEDULER, { every: deps.sweepEveryMs }, { name: "sweep", data: {}, opts: { attempts: 1, removeOnFail: 100 } })
      .catch((err: unknown) => {
        log.warn({ err }, "attachment sweep not scheduled yet; trying again");
        if (!worker.closing) retry = setTimeout(schedule, SCHEDULE_RETRY_MS).unref();
      });
  };
  schedule();
  worker.on("closing", () => clearTimeout(retry));
  return worker;
}

/**
 * Describes each attachment of a new message that is not described yet, then adds the descriptions to
 * the message. A file that turns out unreadable keeps what the send found (its type and size); the
 * store or database failing makes the job retry.
 */
async function describeMessageAttachments(deps: AttachmentsWorkerDeps, job: ProcessJob): Promise<void> {
  const { models, log } = deps;
  const docs = await models.Attachment.find({ _id: { $in: job.attachmentIds } }).lean();
  const described: AttachmentDescriptions = {};
  for (const doc of docs) {
    const id = doc._id.toHexString();
    try {
      const description = alreadyDescribed(doc) ?? (await describe(deps, doc));
      if (description) described[id] = description;
    } catch (err) {
      if (!(err instanceof UnreadableMediaError)) throw err;
      log.info({ attachmentId: id, problem: err.message }, "attachment not described");
    }
  }
  if (Object.keys(described).length === 0) return;
  try {
    await deps.changes.describe(job.senderId, { messageId: job.messageId, conversationId: job.conversationId }, described);
  } catch (err) {
    // Deleted meanwhile: its attachments are on their way out.
    if (!(err instanceof NotFoundError)) throw err;
  }
}

type ProcessJob = AttachmentJobs["process"];
type Description = AttachmentDescriptions[string];

/** What a described attachment's document already says (a retried job after the store write). */
function alreadyDescribed(doc: AttachmentDoc): Description | undefined {
  if (doc.thumbnail && doc.width && doc.height) return { width: doc.width, height: doc.height, thumbnail: doc.thumbnail };
  if (doc.durationMs !== undefined && doc.durationMs !== null) return { durationMs: doc.durationMs };
  return undefined;
}

async function describe(deps: AttachmentsWorkerDeps, doc: AttachmentDoc): Promise<Description | undefined> {
  const { storage, models } = deps;
  if (doc.kind !== "image" && doc.kind !== "audio" && doc.kind !== "video") return undefined;
  const bytes = await storage.read(doc.key);
  // Gone: deleted with its message or account since the job was queued.
  if (!bytes) return undefined;
  if (doc.kind === "image") {
    const image = await describeImage(bytes);
    const thumbnailKey = `${doc.key}.thumbnail.webp`;
    await storage.write(thumbnailKey, image.thumbnail.bytes, THUMBNAIL_TYPE);
    const thumbnail = { width: image.thumbnail.width, height: image.thumbnail.height, contentType: THUMBNAIL_TYPE };
    const updated = await models.Attachment.updateOne({ _id: doc._id }, { $set: { width: image.width, height: image.height, thumbnailKey, thumbnail } });
    if (updated.matchedCount === 0) {
      // Deleted while the thumbnail was being made: the deletion did not know of it.
      await storage.delete([thumbnailKey]);
      return undefined;
    }
    return { width: image.width, height: image.height, thumbnail };
  }
  const durationMs = await mediaDurationMs(bytes, doc.contentType ?? doc.declaredType);
  if (durationMs === undefined) return undefined;
  await models.Attachment.updateOne({ _id: doc._id }, { $set: { durationMs } });
  return { durationMs };
}
