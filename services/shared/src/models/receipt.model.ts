import { Schema, type Connection, type Model, type Types } from "mongoose";

/**
 * One member's delivery and read pointers in one conversation. Pointers only move forwards: every
 * write is a `$max`, so jobs may run in any order and more than once.
 *
 * The `_id` is the pair itself ({@link receiptId}), so that a pointer write is an upsert on `_id`
 * alone: MongoDB finds it through the `_id` index, and FerretDB on SQLite, which pushes down no
 * other filter, without reading the whole collection.
 */
export interface ReceiptDoc {
  /** `<conversationId>:<userId>`, see {@link receiptId}. */
  _id: string;
  conversationId: Types.ObjectId;
  userId: Types.ObjectId;
  /** Highest seq delivered to one of the user's devices. */
  delivered: number;
  deliveredAt: Date | null;
  /** Highest seq the user has read. */
  read: number;
  readAt: Date | null;
}

/** The `_id` of the receipt of `userId` in `conversationId` (hex ObjectIds). */
export function receiptId(conversationId: string, userId: string): string {
  return `${conversationId}:${userId}`;
}

const receiptSchema = new Schema<ReceiptDoc>(
  {
    // No default: an upsert's `$setOnInsert` would compute it without the document's fields.
    _id: { type: String, required: true },
    conversationId: { type: Schema.Types.ObjectId, required: true },
    userId: { type: Schema.Types.ObjectId, required: true },
    delivered: { type: Number, required: true, default: 0 },
    deliveredAt: { type: Date, default: null },
    read: { type: Number, required: true, default: 0 },
    readAt: { type: Date, default: null },
  },
  { versionKey: false },
);
// The members' pointers of a conversation, read together (conversation cache).
receiptSchema.index({ conversationId: 1 });

export function receiptModel(connection: Connection): Model<ReceiptDoc> {
  return connection.model<ReceiptDoc>("Receipt", receiptSchema, "receipts");
}
