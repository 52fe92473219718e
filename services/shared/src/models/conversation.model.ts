import { Schema, type Connection, type Model, type Types } from "mongoose";

import type { Conversation } from "@parley/protocol";
import { messageToWire, type MessageDoc } from "./message.model.js";

export interface ConversationDoc {
  _id: Types.ObjectId;
  type: "direct" | "group";
  name: string | null;
  /**
   * Unique identity: `d:<lower id>:<higher id>` for a direct conversation, so one pair always gets the
   * same conversation, and `g:<_id>` for a group.
   */
  key: string;
  members: Types.ObjectId[];
  admins: Types.ObjectId[];
  createdBy: Types.ObjectId;
  /** Bumped on every membership change; orders the Redis member cache against stale loads. */
  membersVersion: number;
  /**
   * Direct conversations only: whether one of the two members blocks the other. Recomputed from both
   * users' documents whenever a block between them changes, with a conditional update on
   * `membersVersion` (which it bumps), so the Redis cache carries it under the member set's version.
   */
  blocked: boolean;
  /** Seq of the newest persisted message. */
  lastSeq: number;
  lastMessage: MessageDoc | null;
  createdAt: Date;
  updatedAt: Date;
}

const conversationSchema = new Schema<ConversationDoc>(
  {
    type: { type: String, required: true, enum: ["direct", "group"] },
    name: { type: String, default: null },
    key: { type: String, required: true, unique: true },
    members: { type: [Schema.Types.ObjectId], required: true },
    admins: { type: [Schema.Types.ObjectId], required: true },
    createdBy: { type: Schema.Types.ObjectId, required: true },
    membersVersion: { type: Number, required: true, default: 1 },
    blocked: { type: Boolean, default: false },
    lastSeq: { type: Number, required: true, default: 0 },
    lastMessage: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, versionKey: false },
);
// "My conversations", newest first.
conversationSchema.index({ members: 1, updatedAt: -1 });

export function conversationModel(connection: Connection): Model<ConversationDoc> {
  return connection.model<ConversationDoc>("Conversation", conversationSchema, "conversations");
}

/** The `key` of the direct conversation between two users, the same whichever of them asks. */
export function directKey(a: string, b: string): string {
  return a < b ? `d:${a}:${b}` : `d:${b}:${a}`;
}

export function conversationToWire(doc: ConversationDoc): Conversation {
  return {
    id: doc._id.toHexString(),
    type: doc.type,
    name: doc.name,
    members: doc.members.map((m) => m.toHexString()),
    admins: doc.admins.map((m) => m.toHexString()),
    createdBy: doc.createdBy.toHexString(),
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
    lastSeq: doc.lastSeq,
    lastMessage: doc.lastMessage ? messageToWire(doc.lastMessage) : null,
  };
}
