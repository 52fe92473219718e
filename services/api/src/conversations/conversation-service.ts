/**
 * Conversations: creation (direct ones idempotent per pair), listing, and the membership check every
 * conversation route starts with.
 */
import { Types } from "mongoose";

import { BLOCK_FIELDS, peersOfDoc, type BlockFields } from "@parley/shared/blocks/block-cache";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@parley/shared/errors";
import { conversationToWire, directKey, isDuplicateKeyError, type ConversationDoc, type Models, type UserDoc } from "@parley/shared/models";
import type { Conversation, ConversationView } from "@parley/protocol";

import type { ApiContext } from "../context.js";

/** What the conversation services need from the API context. */
export type ConversationDeps = Pick<ApiContext, "models" | "cache" | "events" | "limiter" | "blocks">;

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
 * Refuses to put the caller together with any of `userIds` when there is a block between them, either
 * way. The message names no one: it must not tell the caller which of them blocks them.
 * @throws {ForbiddenError} when one of `userIds` is a block peer of the caller.
 */
export async function refuseBlockPeers(deps: Pick<ConversationDeps, "blocks">, callerId: string, userIds: readonly string[]): Promise<void> {
  if ((await deps.blocks.peersAmong(callerId, userIds)).length > 0) {
    throw new ForbiddenError("You cannot add one or more of these users");
  }
}

/** Attempts of {@link refreshDirectBlocked} before it gives up with a conflict. */
const BLOCKED_STATE_ATTEMPTS = 10;

/**
 * Recomputes the `blocked` flag of a direct conversation from fresh reads (by `_id`) of its two members'
 * documents, and writes it with a conditional update on `membersVersion`, which it bumps, retried when
 * another change won the race. The conversation is read before the users, and the version always moves,
 * even when the flag stays: so whichever block or unblock of the pair wrote MongoDB last, its own
 * refresh (which reads after that write) is the one whose result stays. Returns the conversation as
 * written, for {@link storeMembership}.
 *
 * @throws {NotFoundError} when the conversation does not exist.
 * @throws {ConflictError} when it kept changing under every attempt.
 */
export async function refreshDirectBlocked(models: Pick<Models, "Conversation" | "User">, conversationId: Types.ObjectId): Promise<ConversationDoc> {
  for (let attempt = 1; attempt <= BLOCKED_STATE_ATTEMPTS; attempt++) {
    const doc = await models.Conversation.findById(conversationId, { members: 1, membersVersion: 1 })
      .lean<Pick<ConversationDoc, "_id" | "members" | "membersVersion">>()
      .exec();
    if (!doc) throw new NotFoundError("Conversation not found");
    const [first, second] = doc.members;
    const users = await Promise.all(
      [first, second].map((id) =>
        id ? models.User.findById(id, BLOCK_FIELDS).lean<Pick<UserDoc, "_id"> & Partial<BlockFields>>().exec() : null,
      ),
    );
    const blocked = users.some((user, i) => {
      const other = i === 0 ? second : first;
      return user !== null && other !== undefined && peersOfDoc(user).includes(hex(other));
    });
    const updated = await models.Conversation.findOneAndUpdate(
      { _id: conversationId, membersVersion: doc.membersVersion },
      { $set: { blocked }, $inc: { membersVersion: 1 } },
      // A block is no activity: the conversation keeps its place in the members' lists.
      { returnDocument: "after", timestamps: false },
    )
      .lean<ConversationDoc>()
      .exec();
    if (updated) return updated;
  }
  throw new ConflictError("The conversation changed meanwhile; try again");
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
      blocked: doc.blocked === true,
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
 * @throws {ForbiddenError} when either of them blocks the other.
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
  if (await deps.blocks.hasBlock(callerId, userId)) {
    throw new ForbiddenError("You cannot open a conversation with this user: one of you has blocked the other");
  }
  const { models } = deps;
  const key = directKey(callerId, userId);
  const existing = await models.Conversation.findOne({ key }).lean<ConversationDoc>().exec();
  if (existing) return { conversation: conversationToWire(existing), created: false };

  await deps.limiter.check(callerId, "conversation");
  await requireUsers(models, [userId]);
  const pair = [oid(callerId), oid(userId)];
  let createdId: Types.ObjectId;
  try {
    const created = await models.Conversation.create({
      type: "direct",
      name: null,
      key,
      members: pair,
      admins: pair,
      createdBy: pair[0],
    });
    createdId = created._id;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const winner = await models.Conversation.findOne({ key }).lean<ConversationDoc>().exec();
    if (!winner) throw err;
    return { conversation: conversationToWire(winner), created: false };
  }
  // A block of the pair that began before the insert may have looked for the conversation before it
  // existed: read the block state again now that it does, so that neither misses the other.
  const doc = await refreshDirectBlocked(models, createdId);
  const conversation = await storeMembership(deps, doc, doc.members.map(hex));
  deps.events.membersJoined(conversation, conversation.members);
  return { conversation, created: true };
}

/**
 * Creates a group with the caller as its first member and only admin, plus `memberIds` (deduplicated).
 * Takes a `conversation` token of the caller's first.
 * @throws {RateLimitedError} when the caller's `conversation` bucket is empty.
 * @throws {ForbiddenError} when there is a block between the caller and one of `memberIds`.
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
  await refuseBlockPeers(deps, callerId, others);
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
