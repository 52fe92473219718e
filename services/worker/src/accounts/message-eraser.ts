/**
 * The erasure of a deleted account's messages: every message the account sent loses its content as
 * `message:delete` would do it (through the same change script: content and reactions removed,
 * `deletedAt` set, `rev` raised, the members told with `message:deleted`, the new state queued for
 * persistence), a batch at a time.
 *
 * Idempotent: it reads the messages MongoDB does not store as deleted yet, and a message already
 * deleted (in Redis, not stored yet) is left unchanged and announced no more. So a run that failed
 * halfway is run again from the start, and the re-run a little later (see `enqueueErasure`) only
 * touches the messages that reached MongoDB after the first run.
 */
import { Types } from "mongoose";

import { AppError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import type { MessageChanges } from "@parley/shared/messages/message-changes";
import type { MessageDoc, Models, UserDoc } from "@parley/shared/models";

/** The account to erase does not exist: the job can never succeed. */
export class UnknownAccountError extends Error {
  constructor(readonly userId: string) {
    super(`no account ${userId}`);
    this.name = this.constructor.name;
  }
}

/**
 * The account is not deleted (yet): the API queues the erasure just before the account becomes a
 * tombstone, so a job that starts first is retried a moment later. Nothing of an account that still
 * exists is ever erased.
 */
export class AccountNotDeletedError extends Error {
  constructor(readonly userId: string) {
    super(`account ${userId} is not deleted (yet); its messages are erased once it is`);
    this.name = this.constructor.name;
  }
}

/** What a {@link MessageEraser} needs. */
export interface MessageEraserDeps {
  models: Pick<Models, "Message" | "User">;
  /** The shared change code; its `erase` deletes a message whether or not its sender is a member. */
  changes: Pick<MessageChanges, "erase">;
  log: Logger;
  /**
   * Messages read from MongoDB and erased at once.
   * @default 100
   */
  batchSize?: number;
}

/** How far an erasure got. */
export interface EraseProgress {
  /** Batches done. */
  batches: number;
  /** Messages looked at (not stored as deleted when the run began). */
  seen: number;
  /** Messages whose content this run deleted (the others were deleted already). */
  erased: number;
}

type MessageRef = Pick<MessageDoc, "_id" | "conversationId">;

export class MessageEraser {
  private readonly batchSize: number;

  constructor(private readonly deps: MessageEraserDeps) {
    this.batchSize = deps.batchSize ?? 100;
  }

  /**
   * Erases every message `userId` sent that MongoDB does not store as deleted, calling `onBatch` after
   * each batch. Resolves with the totals.
   * @throws {UnknownAccountError} when there is no such account.
   * @throws {AccountNotDeletedError} when the account is not deleted.
   * @throws whatever Redis or MongoDB fail with (retry: every step is idempotent).
   */
  async erase(userId: string, onBatch?: (progress: EraseProgress) => Promise<void> | void): Promise<EraseProgress> {
    const { models } = this.deps;
    const senderId = new Types.ObjectId(userId);
    const user = await models.User.findById(senderId, { deletedAt: 1 }).lean<Pick<UserDoc, "_id" | "deletedAt">>().exec();
    if (!user) throw new UnknownAccountError(userId);
    if (!user.deletedAt) throw new AccountNotDeletedError(userId);

    const progress: EraseProgress = { batches: 0, seen: 0, erased: 0 };
    // Messages have no index on their sender: this scans the collection, through one cursor. Only a
    // deletion with erasure does it, at most twice per account.
    const cursor = models.Message.find({ senderId, deletedAt: { $exists: false } }, { _id: 1, conversationId: 1 })
      .lean<MessageRef[]>()
      .cursor({ batchSize: this.batchSize });
    let batch: MessageRef[] = [];
    const flush = async () => {
      progress.erased += await this.eraseBatch(userId, batch);
      progress.seen += batch.length;
      progress.batches += 1;
      batch = [];
      await onBatch?.({ ...progress });
    };
    try {
      for await (const ref of cursor) {
        batch.push(ref as MessageRef);
        if (batch.length >= this.batchSize) await flush();
      }
      if (batch.length > 0) await flush();
    } finally {
      await cursor.close();
    }
    return progress;
  }

  /** Erases one batch at once; resolves with how many messages it changed. */
  private async eraseBatch(userId: string, batch: readonly MessageRef[]): Promise<number> {
    const outcomes = await Promise.all(
      batch.map(async (ref) => {
        const messageId = ref._id.toHexString();
        try {
          const { changed } = await this.deps.changes.erase(userId, { messageId, conversationId: ref.conversationId.toHexString() });
          return changed;
        } catch (err) {
          // A message that is gone, or that is not the user's after all, has nothing to erase; a retry
          // could not change that. Anything else (Redis down) fails the batch, and the job is retried.
          if (err instanceof AppError && (err.code === "NOT_FOUND" || err.code === "FORBIDDEN")) {
            this.deps.log.warn({ err, userId, messageId }, "message not erased");
            return false;
          }
          throw err;
        }
      }),
    );
    return outcomes.filter(Boolean).length;
  }
}
