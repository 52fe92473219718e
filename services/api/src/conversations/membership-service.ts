/**
 * Membership changes of group conversations. Each one is a single conditional MongoDB update that bumps
 * `membersVersion`, then the Redis member cache is replaced with the new version, then live sockets are
 * told through the emitter.
 */
import { Types } from "mongoose";

import { AppError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@parley/shared/errors";
import type { ConversationDoc } from "@parley/shared/models";
import { MAX_GROUP_MEMBERS, type Conversation } from "@parley/protocol";

import {
  findMemberConversation,
  refuseBlockPeers,
  requireUsers,
  storeMembership,
  type ConversationDeps,
} from "./conversation-service.js";

const oid = (id: string) => new Types.ObjectId(id);

function requireGroup(doc: ConversationDoc): void {
  if (doc.type !== "group") throw new ForbiddenError("The members of a direct conversation cannot change");
}

const isAdmin = (doc: ConversationDoc, userId: string) => doc.admins.some((a) => a.equals(userId));

/**
 * Adds `userIds` to a group, as one of its admins. Users who are already members are left as they are,
 * so a retried request changes nothing more. A request that adds someone takes a `conversation` token
 * of the caller's; one that adds nobody new is free.
 *
 * @throws {RateLimitedError} when the caller's `conversation` bucket is empty.
 * @throws {NotFoundError} when the conversation or one of the users does not exist.
 * @throws {ForbiddenError} when the caller is not a member or not an admin, the conversation is direct,
 * or there is a block between the caller and one of the users added.
 * @throws {ValidationError} when the group would exceed {@link MAX_GROUP_MEMBERS}.
 * @throws {ConflictError} when the conversation changed between the checks and the write.
 */
export async function addMembers(
  deps: ConversationDeps,
  conversationId: string,
  callerId: string,
  userIds: readonly string[],
): Promise<Conversation> {
  const doc = await findMemberConversation(deps.models, conversationId, callerId);
  requireGroup(doc);
  if (!isAdmin(doc, callerId)) throw new ForbiddenError("Only an admin can add members");
  const current = new Set(doc.members.map((m) => m.toHexString()));
  const added = [...new Set(userIds)].filter((id) => !current.has(id));
  // Nothing new: also rewrites the cache, which repairs it if the previous attempt failed after its write.
  if (added.length === 0) return storeMembership(deps, doc, userIds);
  if (current.size + added.length > MAX_GROUP_MEMBERS) {
    throw new ValidationError(`A group has at most ${MAX_GROUP_MEMBERS} members`, [
      { path: "userIds", message: `must leave the group at most ${MAX_GROUP_MEMBERS} members` },
    ]);
  }
  await deps.limiter.check(callerId, "conversation");
  await refuseBlockPeers(deps, callerId, added);
  await requireUsers(deps.models, added);

  const updated = await deps.models.Conversation.findOneAndUpdate(
    {
      _id: doc._id,
      admins: oid(callerId),
      // The size limit holds at write time too: no element at index MAX - added means size <= MAX - added.
      [`members.${MAX_GROUP_MEMBERS - added.length}`]: { $exists: false },
    },
    { $addToSet: { members: { $each: added.map(oid) } }, $inc: { membersVersion: 1 } },
    { returnDocument: "after" },
  )
    .lean<ConversationDoc>()
    .exec();
  if (!updated) throw new ConflictError("The conversation changed meanwhile; try again");
  const conversation = await storeMembership(deps, updated, added);
  deps.events.membersJoined(conversation, added);
  return conversation;
}

/**
 * Removes `userId` from a group: an admin may remove anyone, and every member may remove themself
 * (leave). When the last admin goes, the earliest remaining member becomes admin.
 *
 * @throws {NotFoundError} when the conversation does not exist or `userId` is not a member.
 * @throws {ForbiddenError} when the caller is not a member, removes someone else without being an admin,
 * or the conversation is direct.
 * @throws {ConflictError} when the conversation changed between the checks and the write.
 */
export async function removeMember(
  deps: ConversationDeps,
  conversationId: string,
  callerId: string,
  userId: string,
): Promise<Conversation> {
  const doc = await findMemberConversation(deps.models, conversationId, callerId);
  requireGroup(doc);
  const leaving = userId === callerId;
  if (!leaving && !isAdmin(doc, callerId)) throw new ForbiddenError("Only an admin can remove other members");
  if (!doc.members.some((m) => m.equals(userId))) {
    // Likely a retry: rewriting the cache repairs it if the first attempt failed after its MongoDB write.
    await storeMembership(deps, doc, [userId]);
    throw new NotFoundError("That user is not a member of this conversation");
  }

  let updated = await pullMember(deps, doc, userId, leaving ? {} : { admins: oid(callerId) });
  if (!updated) throw new ConflictError("The conversation changed meanwhile; try again");

  const { Conversation } = deps.models;
  const heir = updated.admins.length === 0 ? updated.members[0] : undefined;
  if (heir) {
    // Conditional, so two concurrent departures cannot both promote someone.
    const promoted = await Conversation.findOneAndUpdate(
      { _id: doc._id, admins: { $size: 0 }, members: heir },
      { $addToSet: { admins: heir } },
      { returnDocument: "after" },
    )
      .lean<ConversationDoc>()
      .exec();
    updated = promoted ?? (await Conversation.findById(doc._id).lean<ConversationDoc>().exec()) ?? updated;
  }
  const conversation = await storeMembership(deps, updated, [userId]);
  deps.events.memberLeft(conversation, userId);
  return conversation;
}

/**
 * Takes `userId` out of the members and admins of `doc` in one conditional update (also on `extra`),
 * bumping `membersVersion`. Resolves with the new state, or null when the condition no longer held.
 */
async function pullMember(
  deps: Pick<ConversationDeps, "models">,
  doc: ConversationDoc,
  userId: string,
  extra: Record<string, unknown>,
): Promise<ConversationDoc | null> {
  const target = oid(userId);
  return deps.models.Conversation.findOneAndUpdate(
    { _id: doc._id, members: target, ...extra },
    { $pull: { members: target, admins: target }, $inc: { membersVersion: 1 } },
    { returnDocument: "after" },
  )
    .lean<ConversationDoc>()
    .exec();
}

/**
 * `userId` leaves `conversationId`, whatever its type: a group as {@link removeMember} of oneself
 * (admin succession included); a direct conversation too, which then has the other member alone, who
 * gets `conversation:updated`. For an account's deletion. Nothing happens when the user is no longer
 * a member (their cached list of conversations was stale).
 */
export async function leaveConversation(deps: ConversationDeps, conversationId: string, userId: string): Promise<void> {
  const doc = await deps.models.Conversation.findById(oid(conversationId)).lean<ConversationDoc>().exec();
  if (!doc || !doc.members.some((m) => m.equals(userId))) {
    await deps.cache.forgetConversationsOf([userId]);
    return;
  }
  if (doc.type === "group") {
    try {
      await removeMember(deps, conversationId, userId, userId);
    } catch (err) {
      // Gone meanwhile, or the user left by another request: there is nothing left to do.
      if (err instanceof AppError && ["NOT_FOUND", "FORBIDDEN", "CONFLICT"].includes(err.code)) return;
      throw err;
    }
    return;
  }
  const updated = await pullMember(deps, doc, userId, {});
  if (!updated) return;
  const conversation = await storeMembership(deps, updated, [userId]);
  deps.events.memberLeft(conversation, userId);
}

/** Conversations left at once by {@link leaveEveryConversation}. */
const LEAVE_CONCURRENCY = 8;

/**
 * `userId` leaves every conversation they are a member of, found as the gateway finds them
 * (`ConversationCache.conversationsOf`), a few at a time. For an account's deletion.
 */
export async function leaveEveryConversation(deps: ConversationDeps, userId: string): Promise<void> {
  const ids = await deps.cache.conversationsOf(userId);
  for (let i = 0; i < ids.length; i += LEAVE_CONCURRENCY) {
    await Promise.all(ids.slice(i, i + LEAVE_CONCURRENCY).map((id) => leaveConversation(deps, id, userId)));
  }
}
