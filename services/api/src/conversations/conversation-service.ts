/**
 * Conversations: creation (direct ones idempotent per pair), listing, and the membership check every
 * conversation route starts with.
 */
import { Types } from "mongoose";

import { ForbiddenError, NotFoundError, ValidationError } from "@parley/shared/errors";
import { conversationToWire, directKey, isDuplicateKeyError, type ConversationDoc, type Models } from "@parley/shared/models";
import type { Conversation, ConversationView } from "@parley/shared/schemas";

import type { ApiContext } from "../context.js";

/** What the conversation services need from the API context. */
export type ConversationDeps = Pick<ApiContext, "models" | "cache" | "events" | "limiter">;

const oid = (id: string) => new Types.ObjectId(id);
const hex = (id: Types.ObjectId) => id.toHexString();

/**
 * The conversation `conversationId`, when `userId` is one of its members.
 * @throws {NotFoundError} when it does not exist.
 * @throws {ForbiddenError} when the user is not a member.
 */
export async function findMemberConversation(
  models: Pick<Models, "Conversation">,
  conversationId: string,
  userId: string,
): Promise<ConversationDoc> {
  const doc = await models.Conversation.findById(oid(conversationId)).lean<ConversationDoc>().exec();
  if (!doc) throw new NotFoundError("Conversation not found");
  if (!doc.members.some((m) => m.equals(userId))) {
    throw new ForbiddenError("You are not a member of this conversation");
  }
  return doc;
}

/**
 * Requires every user of `userIds` to exist, and not to be a deleted account.
 * @throws {NotFoundError} naming the users that do not.
 */
export async function requireUsers(models: Pick<Models, "User">, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  const found = await models.User.find({ _id: { $in: userIds.map(oid) }, deletedAt: null }, { _id: 1 })
    .lean<{ _id: Types.ObjectId }[]>()
    .exec();
  const existing = new Set(found.map((u) => hex(u._id)));
  const missing = userIds.filter((id) => !existing.has(id));
  if (missing.length === 1) throw new NotFoundError(`User ${missing[0]} not found`);
  if (missing.length > 1) {
    const shown = missing.slice(0, 5).join(", ");
    throw new NotFoundError(`Users not found: ${shown}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`);
  }
}

/**
 * Makes the cache agree with a conversation's membership as just written to MongoDB, so that gateways
 * authorize sends against it without reading MongoDB, and drops the cached conversation lists of the
 * users whose membership changed (`changedUserIds`), so that their next socket joins the right rooms.
 * Returns the conversation's wire form.
 */
export async function storeMembership(
  deps: Pick<ConversationDeps, "cache">,
  doc: ConversationDoc,
  changedUserIds: readonly string[],
): Promise<Conversation> {
  await Promise.all([
    deps.cache.store({
      id: hex(doc._id),
      members: doc.members.map(hex),
      membersVersion: doc.membersVersion,
      lastSeq: doc.lastSeq,
    }),
    deps.cache.forgetConversationsOf(changedUserIds),
  ]);
  return conversationToWire(doc);
}

/** The outcome of {@link createDirectConversation}. */
export interface DirectConversationResult {
  conversation: Conversation;
  /** False when the pair already had its conversation, which is returned unchanged. */
  created: boolean;
}

/**
 * The direct conversation between the caller and `userId`, created on first use. Both orders of the pair
 * and concurrent requests converge on one conversation: its unique `key` lets exactly one insert win,
 * and the others read the winner. Only a creation takes a `conversation` token of the caller's:
 * returning the existing conversation is free.
 *
 * @throws {ValidationError} when `userId` is the caller.
 * @throws {NotFoundError} when `userId` does not exist.
 * @throws {RateLimitedError} when the caller's `conversation` bucket is empty.
 */
export async function createDirectConversation(
  deps: ConversationDeps,
  callerId: string,
  userId: string,
): Promise<DirectConversationResult> {
  if (userId === callerId) {
    throw new ValidationError("A direct conversation needs another user", [
      { path: "userId", message: "must not be your own id" },
    ]);
  }
  const { models } = deps;
  const key = directKey(callerId, userId);
  const existing = await models.Conversation.findOne({ key }).lean<ConversationDoc>().exec();
  if (existing) return { conversation: conversationToWire(existing), created: false };

  await deps.limiter.check(callerId, "conversation");
  await requireUsers(models, [userId]);
  const pair = [oid(callerId), oid(userId)];
  let doc: ConversationDoc;
  try {
    const created = await models.Conversation.create({
      type: "direct",
      name: null,
      key,
      members: pair,
      admins: pair,
      createdBy: pair[0],
    });
    doc = created.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const winner = await models.Conversation.findOne({ key }).lean<ConversationDoc>().exec();
    if (!winner) throw err;
    return { conversation: conversationToWire(winner), created: false };
  }
  const conversation = await storeMembership(deps, doc, doc.members.map(hex));
  deps.events.membersJoined(conversation, conversation.members);
  return { conversation, created: true };
}

/**
 * Creates a group with the caller as its first member and only admin, plus `memberIds` (deduplicated).
 * Takes a `conversation` token of the caller's first.
 * @throws {RateLimitedError} when the caller's `conversation` bucket is empty.
 * @throws {NotFoundError} naming the users of `memberIds` that do not exist.
 */
export async function createGroupConversation(
  deps: ConversationDeps,
  callerId: string,
  name: string,
  memberIds: readonly string[],
): Promise<Conversation> {
  await deps.limiter.check(callerId, "conversation");
  const others = [...new Set(memberIds)].filter((id) => id !== callerId);
  await requireUsers(deps.models, others);
  const _id = new Types.ObjectId();
  const creator = oid(callerId);
  const created = await deps.models.Conversation.create({
    _id,
    type: "group",
    name,
    key: `g:${hex(_id)}`,
    members: [creator, ...others.map(oid)],
    admins: [creator],
    createdBy: creator,
  });
  const stored = created.toObject();
  const conversation = await storeMembership(deps, stored, stored.members.map(hex));
  deps.events.membersJoined(conversation, conversation.members);
  return conversation;
}

/**
 * The caller's conversations, most recent activity first, each with its last message, the caller's
 * unread count and every member's delivery and read pointers.
 */
export async function listConversations(
  deps: Pick<ApiContext, "models" | "views">,
  callerId: string,
): Promise<ConversationView[]> {
  const docs = await deps.models.Conversation.find({ members: oid(callerId) })
    .sort({ updatedAt: -1, _id: -1 })
    .lean<ConversationDoc[]>()
    .exec();
  return deps.views.forMember(docs, callerId);
}

/**
 * One conversation of the caller, as in {@link listConversations}.
 * @throws {NotFoundError} when it does not exist.
 * @throws {ForbiddenError} when the caller is not a member.
 */
export async function getConversationView(
  deps: Pick<ApiContext, "models" | "views">,
  conversationId: string,
  callerId: string,
): Promise<ConversationView> {
  const doc = await findMemberConversation(deps.models, conversationId, callerId);
  const [view] = await deps.views.forMember([doc], callerId);
  return view!;
}
