/**
 * Moves members' delivery and read pointers forward in MongoDB: one `$max` upsert per receipt, keyed by
 * the receipt's `_id` alone.
 */
import type { Model, Types } from "mongoose";

import { isDuplicateKeyOnly, receiptId, type ReceiptDoc } from "@parley/shared/models";

/** The pointers to raise for one member of one conversation (fields left out stay as they are). */
export interface PointerAdvance {
  conversationId: Types.ObjectId;
  userId: Types.ObjectId;
  max: Partial<Pick<ReceiptDoc, "delivered" | "deliveredAt" | "read" | "readAt">>;
}

/**
 * Applies `advances` in one unordered bulk write.
 *
 * Two batches written at once may both upsert a receipt that does not exist yet: one inserts it, the
 * other gets a duplicate key error (MongoDB retries such an upsert by itself only in some cases, and
 * FerretDB never does). The receipt exists by then, so the loser's `$max` applies on the next round.
 * Every write is a `$max`, so repeating the ones that had succeeded changes nothing. MongoDB goes on
 * past a failed item of an unordered bulk write, but FerretDB stops at it, so a round may leave later
 * items unwritten; each round writes at least the item that failed before, hence the bound.
 */
export async function advancePointers(Receipt: Model<ReceiptDoc>, advances: readonly PointerAdvance[]): Promise<void> {
  if (advances.length === 0) return;
  const ops = advances.map(({ conversationId, userId, max }) => ({
    updateOne: {
      filter: { _id: receiptId(conversationId.toHexString(), userId.toHexString()) },
      update: { $max: max, $setOnInsert: { conversationId, userId } },
      upsert: true,
    },
  }));
  for (let round = 1; ; round++) {
    try {
      await Receipt.bulkWrite(ops, { ordered: false });
      return;
    } catch (err) {
      if (round > ops.length || !isDuplicateKeyOnly(err)) throw err;
    }
  }
}
