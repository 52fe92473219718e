import { Schema, type Connection, type Model, type Types } from "mongoose";

/**
 * One member's delivery and read pointers in one conversation. Pointers only move forwards: every
 * write is a `$max`, so jobs may run in any order and more than once.
 */
export interface ReceiptDoc {
  _id: Types.ObjectId;
  conversationId: Types.ObjectId;
  userId: Types.ObjectId;
  /** Highest seq delivered to one of the user's devices. */
  delivered: number;
  deliveredAt: Date | null;
  /** Highest seq the user has read. */
  read: number;
  readAt: Date | null;
}

const receiptSchema = new Schema<ReceiptDoc>(
  {
    conversationId: { type: Schema.Types.ObjectId, required: true },
    userId: { type: Schema.Types.ObjectId, required: true },
    delivered: { type: Number, required: true, default: 0 },
    deliveredAt: { type: Date, default: null },
    read: { type: Number, required: true, default: 0 },
    readAt: { type: Date, default: null },
  },
  { versionKey: false },
);
receiptSchema.index({ conversationId: 1, userId: 1 }, { unique: true });

export function receiptModel(connection: Connection): Model<ReceiptDoc> {
  return connection.model<ReceiptDoc>("Receipt", receiptSchema, "receipts");
}
