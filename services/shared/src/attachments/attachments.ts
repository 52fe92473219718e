/**
 * Attachments from start to end: a member starts one (a presigned upload of exactly the declared size
 * and type, to a key the server chooses), uploads the bytes straight to the object store, then names
 * it in a send; the send checks the stored object (size, and type from its first bytes) and claims the
 * attachment for that message, atomically, so that no attachment is ever on two messages. Downloads are
 * presigned too; deleting a message, an account, or leaving an upload unclaimed deletes the objects.
 */
import { Types } from "mongoose";

import type { Attachment, AttachmentCreated, CreateAttachmentBody } from "@parley/protocol";

import { ForbiddenError, NotFoundError, QuotaExceededError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { attachmentToWire, type AttachmentDoc, type Models } from "../models/index.js";
import { SNIFF_BYTES, inspectContent, type AttachmentConfig } from "./attachment-rules.js";
import type { ObjectStorage } from "./storage.js";

/** The type of every thumbnail. */
export const THUMBNAIL_TYPE = "image/webp";

export interface AttachmentsDeps {
  models: Pick<Models, "Attachment" | "User">;
  /** Undefined when attachments are off (no `S3_BUCKET`). */
  storage: ObjectStorage | undefined;
  config: AttachmentConfig;
  log: Logger;
}

/** The attachments of a send, claimed for it. */
export interface ClaimedAttachments {
  /** As the message carries them, in the order of the send's `attachmentIds`. */
  attachments: Attachment[];
  /** Undoes the claims this call made (not those an earlier attempt of the same send made). */
  release(): Promise<void>;
}

/** What a download answers. */
export interface AttachmentDownload {
  url: string;
  expiresAt: Date;
}

export class Attachments {
  constructor(private readonly deps: AttachmentsDeps) {}

  /** Whether attachments are on (`S3_BUCKET` is set). */
  get enabled(): boolean {
    return this.deps.storage !== undefined;
  }

  /**
   * Starts an attachment of `userId` in `conversationId`, whose membership the caller has checked: the
   * limits, then the user's byte quota (taken at once, atomically), then the presigned upload.
   * @throws {ValidationError} too large, or a type that is not allowed.
   * @throws {QuotaExceededError} the user's attachments would take more than `ATTACHMENT_QUOTA_BYTES`.
   */
  async create(userId: string, conversationId: string, body: CreateAttachmentBody): Promise<AttachmentCreated> {
    const storage = this.storage();
    const { config, models } = this.deps;
    if (body.size > config.ATTACHMENT_MAX_BYTES) {
      throw new ValidationError(`size: must be at most ${config.ATTACHMENT_MAX_BYTES} bytes`, [
        { path: "size", message: `must be at most ${config.ATTACHMENT_MAX_BYTES} bytes` },
      ]);
    }
    if (!config.ATTACHMENT_TYPES.has(body.contentType)) {
      throw new ValidationError(`contentType: ${body.contentType} is not allowed`, [{ path: "contentType", message: `${body.contentType} is not allowed` }]);
    }
    const taken = await models.User.updateOne(
      // Accounts made before attachments existed have no counter yet: $inc starts it.
      { _id: userId, $or: [{ attachmentBytes: { $lte: config.ATTACHMENT_QUOTA_BYTES - body.size } }, { attachmentBytes: { $exists: false } }] },
      { $inc: { attachmentBytes: body.size } },
    );
    if (taken.matchedCount === 0) {
      throw new QuotaExceededError(`Your attachments take all of the ${config.ATTACHMENT_QUOTA_BYTES} bytes you may store; delete some messages with attachments first`);
    }
    const id = new Types.ObjectId();
    const key = `attachments/${conversationId}/${id.toHexString()}`;
    let created: AttachmentDoc | undefined;
    try {
      const doc: AttachmentDoc = {
        _id: id,
        uploaderId: new Types.ObjectId(userId),
        conversationId: new Types.ObjectId(conversationId),
        key,
        name: body.name,
        size: body.size,
        declaredType: body.contentType,
        contentType: null,
        kind: null,
        claim: null,
        createdAt: new Date(),
      };
      await models.Attachment.create(doc);
      created = doc;
      const upload = await storage.presignUpload(key, body.size, body.contentType, config.ATTACHMENT_UPLOAD_TTL_SECONDS);
      return {
        attachment: attachmentToWire(doc),
        upload: { url: upload.url, method: "PUT", headers: upload.headers, expiresAt: upload.expiresAt.toISOString() },
      };
    } catch (err) {
      if (created) await models.Attachment.deleteOne({ _id: id }).catch(() => {});
      await this.refund(userId, body.size);
      throw err;
    }
  }

  /**
   * Claims `ids` for the message `clientMsgId` that `senderId` is sending to `conversationId`. Each must
   * be the sender's, for this conversation, uploaded in full and of an allowed type (checked once, from
   * the stored object), and claimed by no other message; a retry of the same send finds its own claims.
   * All or none: on any problem nothing is claimed.
   * @throws {ValidationError} naming each attachment's problem, by its index in `attachmentIds`.
   */
  async claim(senderId: string, conversationId: string, clientMsgId: string, ids: readonly string[]): Promise<ClaimedAttachments> {
    const storage = this.storage();
    const { Attachment: model } = this.deps.models;
    const docs = new Map((await model.find({ _id: { $in: ids } }).lean()).map((d) => [d._id.toHexString(), d]));
    const issues: { path: string; message: string }[] = [];
    const problem = (index: number, message: string) => issues.push({ path: `attachmentIds.${index}`, message });
    await Promise.all(
      ids.map(async (id, index) => {
        const doc = docs.get(id);
        // Someone else's attachment is not named as such: its existence is not the sender's business.
        if (!doc || !doc.uploaderId.equals(senderId)) return problem(index, "no such attachment");
        if (!doc.conversationId.equals(conversationId)) return problem(index, "belongs to another conversation");
        if (doc.claim !== null && doc.claim !== clientMsgId) return problem(index, "is attached to another message");
        if (doc.contentType !== null) return;
        const checked = await this.check(storage, doc);
        if (!checked.ok) return problem(index, checked.problem);
        doc.contentType = checked.contentType;
        doc.kind = checked.kind;
      }),
    );
    if (issues.length > 0) throw attachmentProblems(issues.sort((a, b) => a.path.localeCompare(b.path, "en", { numeric: true })));

    const claimedNow: Types.ObjectId[] = [];
    const release = async () => {
      if (claimedNow.length === 0) return;
      await model.updateMany({ _id: { $in: claimedNow }, claim: clientMsgId }, { $set: { claim: null } });
    };
    for (const [index, id] of ids.entries()) {
      const doc = docs.get(id)!;
      if (doc.claim === clientMsgId) continue;
      const won = await model.updateOne({ _id: doc._id, claim: null }, { $set: { claim: clientMsgId } });
      if (won.modifiedCount === 1) {
        claimedNow.push(doc._id);
        continue;
      }
      const current = await model.findById(doc._id, { claim: 1 }).lean();
      if (current?.claim === clientMsgId) continue;
      await release();
      throw attachmentProblems([{ path: `attachmentIds.${index}`, message: current ? "is attached to another message" : "no such attachment" }]);
    }
    return { attachments: ids.map((id) => attachmentToWire(docs.get(id)!)), release };
  }

  /**
   * A presigned download of attachment `id` (or its thumbnail) for `userId`: the uploader's always, a
   * member's once a message carries it. `isMember` answers for the attachment's conversation.
   * @throws {NotFoundError} for anyone else, for a missing thumbnail, and when attachments are off.
   */
  async download(
    userId: string,
    id: string,
    variant: "original" | "thumbnail",
    isMember: (conversationId: string) => Promise<boolean>,
  ): Promise<AttachmentDownload> {
    const { storage } = this.deps;
    const doc = storage && Types.ObjectId.isValid(id) ? await this.deps.models.Attachment.findById(id).lean() : null;
    const visible =
      doc !== null && (doc.uploaderId.equals(userId) || (doc.claim !== null && (await isMember(doc.conversationId.toHexString()))));
    if (!storage || !doc || !visible) throw new NotFoundError("Attachment not found");
    if (variant === "thumbnail") {
      if (!doc.thumbnailKey) throw new NotFoundError("This attachment has no thumbnail");
      const link = await storage.presignDownload(doc.thumbnailKey, {
        contentType: THUMBNAIL_TYPE,
        disposition: contentDisposition("inline", `${baseName(doc.name)}.webp`),
        expiresInSeconds: this.deps.config.ATTACHMENT_DOWNLOAD_TTL_SECONDS,
      });
      return { url: link.url, expiresAt: link.expiresAt };
    }
    const contentType = doc.contentType ?? doc.declaredType;
    // Only media are shown in the page; anything else is a download, so that no file can act as a page
    // of the store's origin.
    const inline = doc.kind === "image" || doc.kind === "video" || doc.kind === "audio";
    const link = await storage.presignDownload(doc.key, {
      contentType,
      disposition: contentDisposition(inline ? "inline" : "attachment", doc.name),
      expiresInSeconds: this.deps.config.ATTACHMENT_DOWNLOAD_TTL_SECONDS,
    });
    return { url: link.url, expiresAt: link.expiresAt };
  }

  /** Deletes attachments (objects, thumbnails, documents) and gives their bytes back to their uploaders. */
  async purge(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.purgeDocs(await this.deps.models.Attachment.find({ _id: { $in: ids } }).lean());
  }

  /** Deletes every attachment of `userId` (the account's deletion). */
  async purgeUser(userId: string): Promise<number> {
    return this.purgeDocs(await this.deps.models.Attachment.find({ uploaderId: userId }).lean());
  }

  /** Deletes the attachments that no message claimed and that are older than `ATTACHMENT_ORPHAN_TTL_SECONDS`. */
  async sweepOrphans(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.deps.config.ATTACHMENT_ORPHAN_TTL_SECONDS * 1000);
    const docs = await this.deps.models.Attachment.find({ claim: null, createdAt: { $lt: cutoff } }).limit(1000).lean();
    return this.purgeDocs(docs);
  }

  private async purgeDocs(docs: readonly AttachmentDoc[]): Promise<number> {
    if (docs.length === 0) return 0;
    const storage = this.storage();
    await storage.delete(docs.flatMap((d) => (d.thumbnailKey ? [d.key, d.thumbnailKey] : [d.key])));
    const deleted = await this.deps.models.Attachment.deleteMany({ _id: { $in: docs.map((d) => d._id) } });
    const bytes = new Map<string, number>();
    for (const doc of docs) bytes.set(doc.uploaderId.toHexString(), (bytes.get(doc.uploaderId.toHexString()) ?? 0) + doc.size);
    for (const [userId, size] of bytes) await this.refund(userId, size);
    this.deps.log.debug({ count: deleted.deletedCount }, "attachments deleted");
    return deleted.deletedCount;
  }

  /** Gives `size` bytes back to `userId`'s quota. */
  private async refund(userId: string, size: number): Promise<void> {
    await this.deps.models.User.updateOne({ _id: userId }, { $inc: { attachmentBytes: -size } });
  }

  /** Checks the stored object of `doc` and records what it is; the problem when it is not acceptable. */
  private async check(storage: ObjectStorage, doc: AttachmentDoc): Promise<{ ok: true; contentType: string; kind: NonNullable<AttachmentDoc["kind"]> } | { ok: false; problem: string }> {
    const head = await storage.head(doc.key);
    if (!head) return { ok: false, problem: "is not uploaded yet" };
    if (head.size !== doc.size) return { ok: false, problem: `is ${head.size} bytes, not the ${doc.size} it was started with` };
    const sample = (await storage.readStart(doc.key, Math.min(SNIFF_BYTES, doc.size))) ?? new Uint8Array();
    const inspection = await inspectContent(sample, doc.declaredType, this.deps.config.ATTACHMENT_TYPES);
    if (!inspection.ok) return inspection;
    await this.deps.models.Attachment.updateOne({ _id: doc._id }, { $set: { contentType: inspection.contentType, kind: inspection.kind } });
    return inspection;
  }

  private storage(): ObjectStorage {
    if (!this.deps.storage) throw new ForbiddenError("Attachments are not enabled on this server");
    return this.deps.storage;
  }
}

/** The refusal of a send's attachments. */
function attachmentProblems(issues: { path: string; message: string }[]): ValidationError {
  return new ValidationError(`Invalid attachments: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
}

/** A `Content-Disposition` value for `name` (RFC 6266: an ASCII fallback and the UTF-8 name). */
export function contentDisposition(type: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** The name without its extension. */
function baseName(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}
