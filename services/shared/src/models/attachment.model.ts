import { Schema, type Connection, type Model, type Types } from "mongoose";

import type { Attachment, AttachmentKind, AttachmentThumbnail } from "@parley/protocol";

import { kindOf } from "../attachments/attachment-rules.js";

/**
 * An attachment: a file its uploader put in the object store for one conversation, and what the
 * services found out about it. It belongs to at most one message, the uploader's message with
 * clientMsgId `claim` (set atomically when the message is sent); one that no message claims is deleted
 * after `ATTACHMENT_ORPHAN_TTL_SECONDS`.
 */
export interface AttachmentDoc {
  _id: Types.ObjectId;
  uploaderId: Types.ObjectId;
  conversationId: Types.ObjectId;
  /** The object's key, chosen by the server: `attachments/<conversation id>/<attachment id>`. */
  key: string;
  /** The uploader's file name, for display only. */
  name: string;
  /** Bytes, as declared and signed into the upload. */
  size: number;
  /** The type the upload was signed for. */
  declaredType: string;
  /** The type found in the file's first bytes; null until the file has been checked (at its first send). */
  contentType: string | null;
  kind: AttachmentKind | null;
  /** clientMsgId of the uploader's message that carries the attachment; null while none does. */
  claim: string | null;
  width?: number | undefined;
  height?: number | undefined;
  durationMs?: number | undefined;
  /** Key of the thumbnail object, with what the message says of it. */
  thumbnailKey?: string | undefined;
  thumbnail?: AttachmentThumbnail | undefined;
  createdAt: Date;
}

/**
 * What the worker finds out about an attachment: the same fields in its own document and in the
 * message that carries it.
 */
export const attachmentDescriptionFields = {
  width: { type: Number },
  height: { type: Number },
  durationMs: { type: Number },
  thumbnail: { type: new Schema<AttachmentThumbnail>({ width: Number, height: Number, contentType: String }, { _id: false }) },
} as const;

const attachmentSchema = new Schema<AttachmentDoc>(
  {
    uploaderId: { type: Schema.Types.ObjectId, required: true },
    conversationId: { type: Schema.Types.ObjectId, required: true },
    key: { type: String, required: true },
    name: { type: String, required: true },
    size: { type: Number, required: true },
    declaredType: { type: String, required: true },
    contentType: { type: String, default: null },
    kind: { type: String, default: null },
    claim: { type: String, default: null },
    ...attachmentDescriptionFields,
    thumbnailKey: { type: String },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
// The orphan sweep: unclaimed attachments by age.
attachmentSchema.index({ claim: 1, createdAt: 1 });
// An account's deletion: every attachment of the user.
attachmentSchema.index({ uploaderId: 1 });

export function attachmentModel(connection: Connection): Model<AttachmentDoc> {
  return connection.model<AttachmentDoc>("Attachment", attachmentSchema, "attachments");
}

/**
 * What a message says of an attachment. Before its first send checks the bytes, its type and kind are
 * the ones it was started with.
 */
export function attachmentToWire(doc: AttachmentDoc): Attachment {
  const attachment: Attachment = {
    id: doc._id.toHexString(),
    name: doc.name,
    size: doc.size,
    contentType: doc.contentType ?? doc.declaredType,
    kind: doc.kind ?? kindOf(doc.declaredType),
  };
  if (doc.width) attachment.width = doc.width;
  if (doc.height) attachment.height = doc.height;
  if (doc.durationMs !== undefined) attachment.durationMs = doc.durationMs;
  if (doc.thumbnail) attachment.thumbnail = { width: doc.thumbnail.width, height: doc.thumbnail.height, contentType: doc.thumbnail.contentType };
  return attachment;
}
