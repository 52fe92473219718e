import { Schema, Types, type Connection, type Model } from "mongoose";

import type { Attachment, AttachmentKind, AttachmentThumbnail, Message, MessageType } from "@parley/protocol";

import { attachmentDescriptionFields } from "./attachment.model.js";

/**
 * One emoji's reactions on a message. Stored as a list rather than an object keyed by emoji, so that no
 * user input ever becomes a MongoDB field name, and so that the order of first use is kept.
 */
export interface ReactionDoc {
  emoji: string;
  /** In the order the users reacted. */
  userIds: Types.ObjectId[];
}

/** An attachment as its message describes it (the attachment's own document holds the rest). */
export interface MessageAttachmentDoc {
  attachmentId: Types.ObjectId;
  name: string;
  size: number;
  contentType: string;
  kind: AttachmentKind;
  width?: number | undefined;
  height?: number | undefined;
  durationMs?: number | undefined;
  thumbnail?: AttachmentThumbnail | undefined;
}

/**
 * A message document; `_id` is the message id the gateway assigned, so writes are idempotent upserts.
 * Edits, deletes and reactions replace the whole state and raise `rev`: the stored state is always the
 * highest rev the worker has seen.
 */
export interface MessageDoc {
  _id: Types.ObjectId;
  conversationId: Types.ObjectId;
  seq: number;
  senderId: Types.ObjectId;
  clientMsgId: string;
  /** Empty once deleted. */
  content: string;
  type: MessageType;
  createdAt: Date;
  replyToId?: Types.ObjectId | undefined;
  /** 0 as sent, +1 per change. Absent on documents stored before revisions existed: read it as 0. */
  rev: number;
  editedAt?: Date | undefined;
  deletedAt?: Date | undefined;
  /** Absent or empty when there is none. */
  reactions?: ReactionDoc[] | undefined;
  /** Absent or empty when there is none. */
  attachments?: MessageAttachmentDoc[] | undefined;
}

const reactionSchema = new Schema<ReactionDoc>(
  {
    emoji: { type: String, required: true },
    userIds: { type: [Schema.Types.ObjectId], required: true },
  },
  { _id: false },
);

const messageAttachmentSchema = new Schema<MessageAttachmentDoc>(
  {
    attachmentId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    size: { type: Number, required: true },
    contentType: { type: String, required: true },
    kind: { type: String, required: true },
    ...attachmentDescriptionFields,
  },
  { _id: false },
);

const messageSchema = new Schema<MessageDoc>(
  {
    conversationId: { type: Schema.Types.ObjectId, required: true },
    seq: { type: Number, required: true },
    senderId: { type: Schema.Types.ObjectId, required: true },
    clientMsgId: { type: String, required: true },
    // Not `required`: mongoose refuses an empty string as missing, and a deleted message has one.
    content: { type: String, default: "" },
    type: { type: String, required: true },
    createdAt: { type: Date, required: true },
    replyToId: { type: Schema.Types.ObjectId },
    rev: { type: Number, required: true, default: 0 },
    editedAt: { type: Date },
    deletedAt: { type: Date },
    reactions: { type: [reactionSchema], default: undefined },
    attachments: { type: [messageAttachmentSchema], default: undefined },
  },
  { versionKey: false },
);
// History pages and sync read by (conversation, seq); unique, so one seq can never hold two messages.
messageSchema.index({ conversationId: 1, seq: 1 }, { unique: true });

export function messageModel(connection: Connection): Model<MessageDoc> {
  return connection.model<MessageDoc>("Message", messageSchema, "messages");
}

/** The wire form of a stored message (also of a conversation's `lastMessage`). `rev` 0 is left out. */
export function messageToWire(doc: MessageDoc): Message {
  const message: Message = {
    id: doc._id.toHexString(),
    conversationId: doc.conversationId.toHexString(),
    seq: doc.seq,
    senderId: doc.senderId.toHexString(),
    clientMsgId: doc.clientMsgId,
    content: doc.content,
    type: doc.type,
    createdAt: doc.createdAt.toISOString(),
  };
  if (doc.replyToId) message.replyToId = doc.replyToId.toHexString();
  if (doc.rev) message.rev = doc.rev;
  if (doc.editedAt) message.editedAt = doc.editedAt.toISOString();
  if (doc.deletedAt) message.deletedAt = doc.deletedAt.toISOString();
  if (doc.reactions && doc.reactions.length > 0) {
    message.reactions = Object.fromEntries(doc.reactions.map((r) => [r.emoji, r.userIds.map((u) => u.toHexString())]));
  }
  if (doc.attachments && doc.attachments.length > 0) message.attachments = doc.attachments.map(messageAttachmentToWire);
  return message;
}

/** The document of a message state. Optional fields are left out when unset, never stored as null. */
export function messageToDoc(message: Message): MessageDoc {
  const doc: MessageDoc = {
    _id: new Types.ObjectId(message.id),
    conversationId: new Types.ObjectId(message.conversationId),
    seq: message.seq,
    senderId: new Types.ObjectId(message.senderId),
    clientMsgId: message.clientMsgId,
    content: message.content,
    type: message.type,
    createdAt: new Date(message.createdAt),
    rev: message.rev ?? 0,
  };
  if (message.replyToId) doc.replyToId = new Types.ObjectId(message.replyToId);
  if (message.editedAt) doc.editedAt = new Date(message.editedAt);
  if (message.deletedAt) doc.deletedAt = new Date(message.deletedAt);
  const reactions = Object.entries(message.reactions ?? {}).filter(([, users]) => users.length > 0);
  if (reactions.length > 0) {
    doc.reactions = reactions.map(([emoji, users]) => ({ emoji, userIds: users.map((u) => new Types.ObjectId(u)) }));
  }
  if (message.attachments && message.attachments.length > 0) {
    doc.attachments = message.attachments.map(({ id, ...rest }) => ({ attachmentId: new Types.ObjectId(id), ...rest }));
  }
  return doc;
}

function messageAttachmentToWire(doc: MessageAttachmentDoc): Attachment {
  const attachment: Attachment = { id: doc.attachmentId.toHexString(), name: doc.name, size: doc.size, contentType: doc.contentType, kind: doc.kind };
  if (doc.width) attachment.width = doc.width;
  if (doc.height) attachment.height = doc.height;
  if (doc.durationMs !== undefined && doc.durationMs !== null) attachment.durationMs = doc.durationMs;
  if (doc.thumbnail) attachment.thumbnail = { width: doc.thumbnail.width, height: doc.thumbnail.height, contentType: doc.thumbnail.contentType };
  return attachment;
}
