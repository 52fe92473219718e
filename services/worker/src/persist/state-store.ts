/**
 * Writes the small state that changes often: delivery/read pointers and last-seen times. Every write is
 * a `$max` upsert, so jobs may run in any order, more than once, and in concurrent batches.
 */
import { Types } from "mongoose";

import { receiptId, type Models } from "@parley/shared/models";
import type { LastSeenJob, PointerJob } from "@parley/shared/queues";

import type { ItemOutcome } from "./batcher.js";
import { advancePointers, type PointerAdvance } from "./receipt-writes.js";

const ok = { ok: true, value: undefined } as const;

export class StateStore {
  constructor(private readonly models: Pick<Models, "Receipt" | "User">) {}

  /** Moves each pointer forward (never backwards); one upsert per (conversation, user) of the batch. */
  async writePointers(jobs: readonly PointerJob[]): Promise<ItemOutcome<void>[]> {
    const latest = new Map<string, { delivered: PointerJob | undefined; read: PointerJob | undefined }>();
    for (const job of jobs) {
      const key = receiptId(job.conversationId, job.userId);
      const entry = latest.get(key) ?? { delivered: undefined, read: undefined };
      if (!entry[job.kind] || job.seq > entry[job.kind]!.seq) entry[job.kind] = job;
      latest.set(key, entry);
    }
    await advancePointers(
      this.models.Receipt,
      [...latest.values()].map(({ delivered, read }): PointerAdvance => {
        const any = (delivered ?? read)!;
        const max: PointerAdvance["max"] = {};
        // A read implies delivery up to the same seq.
        const deliveredSeq = Math.max(delivered?.seq ?? 0, read?.seq ?? 0);
        const deliveredAt = delivered?.at ?? read?.at;
        if (deliveredSeq > 0 && deliveredAt) {
          max.delivered = deliveredSeq;
          max.deliveredAt = new Date(deliveredAt);
        }
        if (read) {
          max.read = read.seq;
          max.readAt = new Date(read.at);
        }
        return { conversationId: new Types.ObjectId(any.conversationId), userId: new Types.ObjectId(any.userId), max };
      }),
    );
    return jobs.map(() => ok);
  }

  /** Records last-seen times; a later time always wins. */
  async writeLastSeen(jobs: readonly LastSeenJob[]): Promise<ItemOutcome<void>[]> {
    await this.models.User.bulkWrite(
      jobs.map((job) => ({
        updateOne: {
          filter: { _id: new Types.ObjectId(job.userId) },
          update: { $max: { lastSeen: new Date(job.lastSeen) } },
        },
      })),
      { ordered: false },
    );
    return jobs.map(() => ok);
  }
}
