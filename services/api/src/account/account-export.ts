/**
 * `GET /api/users/me/export`: everything parley stores about the caller, as one JSON document (the
 * protocol's `AccountExport`) written as it is read (page by page, under the response's backpressure),
 * so that a large account is never held in memory whole.
 *
 * Of other users it holds only what the caller's conversations show their members anyway (ids of
 * members and admins, names of groups). A conversation's `lastMessage` is left out (null): it may be
 * someone else's, and the caller's own messages are all in `messages`.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import type { Response } from "express";
import { Types } from "mongoose";

import {
  conversationToWire,
  messageToWire,
  receiptId,
  type ConversationDoc,
  type MessageDoc,
  type ReceiptDoc,
  type SessionDoc,
  type UserDoc,
} from "@parley/shared/models";
import type { Block, Conversation, ExportedReceipt, ExportedSession, ExportedUser, Message } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import type { Caller } from "../http/authenticate.js";

/** What the export needs from the API context. */
export type ExportDeps = Pick<ApiContext, "models" | "sessions" | "cache" | "pipeline">;

/** Conversations (and receipts) read per query, and messages per page. */
const PAGE_SIZE = 200;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function exportedSession(doc: SessionDoc): ExportedSession {
  return {
    id: doc._id.toHexString(),
    device: doc.device,
    userAgent: doc.userAgent,
    createdAt: doc.createdAt.toISOString(),
    lastUsedAt: doc.lastUsedAt.toISOString(),
    expiresAt: doc.expiresAt.toISOString(),
    revokedAt: iso(doc.revokedAt),
    revokedReason: doc.revokedReason,
  };
}

function exportedReceipt(doc: ReceiptDoc): ExportedReceipt {
  return {
    conversationId: doc.conversationId.toHexString(),
    delivered: doc.delivered,
    deliveredAt: iso(doc.deliveredAt),
    read: doc.read,
    readAt: iso(doc.readAt),
  };
}

/**
 * Answers the export of `caller` on `res`: `200`, JSON, as an attachment named
 * `parley-export-<username>.json`. Resolves when it is written, or when the client went away.
 * @throws whatever reading fails with; after the first bytes, the response is cut instead.
 */
export async function sendExport(deps: ExportDeps, caller: Caller, res: Response): Promise<void> {
  // By _id: a key lookup on every database.
  const user = await deps.models.User.findById(new Types.ObjectId(caller.id)).lean<UserDoc>().exec();
  if (!user) throw new Error("the authenticated caller has no user document");
  const sessions = await deps.sessions.all(caller.id);
  const conversationIds = await deps.cache.conversationsOf(caller.id);
  // Usernames are letters, digits, '_', '.' and '-': nothing to escape in the quoted file name.
  res.status(200).type("application/json").setHeader("content-disposition", `attachment; filename="parley-export-${user.username}.json"`);
  try {
    await pipeline(Readable.from(exportChunks(deps, user, sessions, conversationIds)), res);
  } catch (err) {
    // A client that stops the download is no failure of ours.
    if ((err as { code?: unknown }).code === "ERR_STREAM_PREMATURE_CLOSE") return;
    throw err;
  }
}

/** The export document, in pieces of at most a page each. */
async function* exportChunks(
  deps: ExportDeps,
  user: UserDoc,
  sessions: readonly SessionDoc[],
  conversationIds: readonly string[],
): AsyncGenerator<string> {
  const userId = user._id.toHexString();
  const profile: ExportedUser = {
    id: userId,
    username: user.username,
    displayName: user.displayName,
    avatarUrl: user.avatarUrl ?? null,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastSeen: iso(user.lastSeen),
  };
  const blocks: Block[] = (user.blocks ?? []).map((b) => ({ userId: b.userId.toHexString(), createdAt: b.createdAt.toISOString() }));
  const head = `{"exportedAt":${JSON.stringify(new Date().toISOString())},"user":${JSON.stringify(profile)}`;
  yield `${head},"sessions":${JSON.stringify(sessions.map(exportedSession))},"blocks":${JSON.stringify(blocks)},"conversations":`;
  yield* jsonArray(conversationPages(deps, conversationIds));
  yield `,"receipts":`;
  yield* jsonArray(receiptPages(deps, userId, conversationIds));
  yield `,"messages":`;
  yield* jsonArray(messagePages(deps, userId));
  yield "}";
}

/** A JSON array of every item of `pages`, a page per piece. */
async function* jsonArray(pages: AsyncIterable<readonly unknown[]>): AsyncGenerator<string> {
  let separator = "";
  yield "[";
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield separator + page.map((item) => JSON.stringify(item)).join(",");
    separator = ",";
  }
  yield "]";
}

function* pagesOf<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += PAGE_SIZE) yield items.slice(i, i + PAGE_SIZE);
}

/** The caller's conversations, read by `_id`. */
async function* conversationPages(deps: ExportDeps, ids: readonly string[]): AsyncGenerator<Conversation[]> {
  for (const page of pagesOf(ids)) {
    const docs = await deps.models.Conversation.find({ _id: { $in: page.map((id) => new Types.ObjectId(id)) } })
      .lean<ConversationDoc[]>()
      .exec();
    yield docs.map((doc) => ({ ...conversationToWire(doc), lastMessage: null }));
  }
}

/** The caller's receipts in those conversations, read by `_id` (the pair). */
async function* receiptPages(deps: ExportDeps, userId: string, conversationIds: readonly string[]): AsyncGenerator<ExportedReceipt[]> {
  for (const page of pagesOf(conversationIds)) {
    const docs = await deps.models.Receipt.find({ _id: { $in: page.map((id) => receiptId(id, userId)) } })
      .lean<ReceiptDoc[]>()
      .exec();
    yield docs.map(exportedReceipt);
  }
}

/**
 * Every message the caller sent, in its latest state (MongoDB's, or the Redis overlay's when newer),
 * through one cursor. Messages have no index on their sender: this scans the collection, which only
 * this rare, rate-limited request does. A message the worker has not stored yet (sent in the last
 * moments) is not in it.
 */
async function* messagePages(deps: ExportDeps, userId: string): AsyncGenerator<Message[]> {
  const cursor = deps.models.Message.find({ senderId: new Types.ObjectId(userId) })
    .lean<MessageDoc[]>()
    .cursor({ batchSize: PAGE_SIZE });
  let page: Message[] = [];
  try {
    for await (const doc of cursor) {
      page.push(messageToWire(doc as MessageDoc));
      if (page.length < PAGE_SIZE) continue;
      yield await deps.pipeline.reader.latest(page);
      page = [];
    }
    if (page.length > 0) yield await deps.pipeline.reader.latest(page);
  } finally {
    await cursor.close();
  }
}
