/**
 * Blocking. A user's document lists whom they block (`blocks`, with since when) and who blocks them
 * (`blockedBy`); `blocksVersion` moves with every change of either. A block between two users cuts every
 * direct channel both ways, so after each change both users' Redis peer sets and, when they have one,
 * their direct conversation's blocked flag are brought up to date before the request is answered.
 *
 * Only operations every MongoDB-compatible database supports, and every read by `_id`: the blocker's
 * `blocks` is rewritten whole with a conditional update on `blocksVersion`; the target's `blockedBy`,
 * which mirrors it, is then brought in line with a fresh read of it, with `$addToSet` / `$pull` under a
 * conditional update on the target's `blocksVersion`. Both are retried when another change won, so
 * concurrent blocks and unblocks (by either user, from several devices) always leave the mirror right.
 */
import { Types } from "mongoose";

import { ConflictError, NotFoundError, ValidationError } from "@parley/shared/errors";
import { directKey, type BlockEntry, type UserDoc } from "@parley/shared/models";
import type { Block } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { refreshDirectBlocked, storeMembership } from "../conversations/conversation-service.js";

/** What blocking needs from the API context. */
export type BlockDeps = Pick<ApiContext, "models" | "cache" | "blocks">;

/** How many users one user may block. */
export const MAX_BLOCKS = 1000;

/**
 * Attempts of a conditional update of a user document. Its version also moves when someone else blocks
 * or unblocks that user, so a popular user may need a few.
 */
const ATTEMPTS = 10;

const oid = (id: string) => new Types.ObjectId(id);

type BlocksDoc = Pick<UserDoc, "_id" | "blocks" | "blocksVersion">;

function toBlock(entry: BlockEntry): Block {
  return { userId: entry.userId.toHexString(), createdAt: entry.createdAt.toISOString() };
}

function refuseSelf(callerId: string, userId: string): void {
  if (userId === callerId) throw new ValidationError("You cannot block yourself", [{ path: "userId", message: "must not be your own id" }]);
}

async function readBlocks(deps: BlockDeps, userId: string): Promise<BlocksDoc | null> {
  return deps.models.User.findById(oid(userId), { blocks: 1, blocksVersion: 1 }).lean<BlocksDoc>().exec();
}

/**
 * Rewrites `blockerId`'s blocks with `change` (given their current blocks, the new ones, or undefined to
 * leave them as they are), under a conditional update on `blocksVersion`, retried when another change
 * came first. Returns the blocks as they are after it.
 */
async function updateBlocks(
  deps: BlockDeps,
  blockerId: string,
  change: (blocks: readonly BlockEntry[]) => BlockEntry[] | undefined,
): Promise<BlockEntry[]> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const doc = await readBlocks(deps, blockerId);
    if (!doc) throw new NotFoundError("User not found");
    const blocks = change(doc.blocks);
    if (!blocks) return doc.blocks;
    const { matchedCount } = await deps.models.User.updateOne(
      { _id: doc._id, blocksVersion: doc.blocksVersion },
      { $set: { blocks }, $inc: { blocksVersion: 1 } },
    ).exec();
    if (matchedCount === 1) return blocks;
  }
  throw new ConflictError("Your blocks changed meanwhile; try again");
}

/**
 * Makes `targetId`'s `blockedBy` list `blockerId` exactly when `blockerId`'s blocks list `targetId`. The
 * target is read before the blocker, and written (its version moving even when the list stays, so that
 * no older read can be written after) only if unchanged since: whichever change of the blocker's
 * blocks came last, the mirror written last was read after it.
 */
async function mirrorBlockedBy(deps: BlockDeps, blockerId: string, targetId: string): Promise<void> {
  const { User } = deps.models;
  const blocker = oid(blockerId);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const target = await User.findById(oid(targetId), { blocksVersion: 1 })
      .lean<Pick<UserDoc, "_id" | "blocksVersion">>()
      .exec();
    if (!target) return;
    const blocks = (await readBlocks(deps, blockerId))?.blocks ?? [];
    const wanted = blocks.some((b) => b.userId.equals(targetId));
    const { matchedCount } = await User.updateOne(
      { _id: target._id, blocksVersion: target.blocksVersion },
      { ...(wanted ? { $addToSet: { blockedBy: blocker } } : { $pull: { blockedBy: blocker } }), $inc: { blocksVersion: 1 } },
    ).exec();
    if (matchedCount === 1) return;
  }
  throw new ConflictError("The blocked user changed meanwhile; try again");
}

/**
 * Brings everything that mirrors the block between `blockerId` and `targetId` up to date, after the
 * blocker's blocks changed (or, on a repeated request, did not): the target's `blockedBy`, both users'
 * peer sets and, if they have one, their direct conversation's blocked flag and member cache. Each step
 * reads after the writes before it, so a retried request repairs one that failed half-way.
 */
async function syncBlockState(deps: BlockDeps, blockerId: string, targetId: string): Promise<void> {
  await mirrorBlockedBy(deps, blockerId, targetId);
  const direct = await deps.models.Conversation.findOne({ key: directKey(blockerId, targetId) }, { _id: 1 })
    .lean<{ _id: Types.ObjectId }>()
    .exec();
  await Promise.all([
    deps.blocks.refresh(blockerId),
    deps.blocks.refresh(targetId),
    direct && refreshDirectBlocked(deps.models, direct._id).then((doc) => storeMembership(deps, doc, [])),
  ]);
}

/** Whom `userId` blocks, oldest block first. */
export async function listBlocks(deps: BlockDeps, userId: string): Promise<Block[]> {
  const doc = await readBlocks(deps, userId);
  if (!doc) throw new NotFoundError("User not found");
  return doc.blocks.map(toBlock);
}

/**
 * `blockerId` blocks `targetId`. Blocking again changes nothing and answers the existing block.
 *
 * @throws {ValidationError} when `targetId` is the caller, or the caller already blocks {@link MAX_BLOCKS} users.
 * @throws {NotFoundError} when `targetId` does not exist or was deleted.
 * @throws {ConflictError} when the users' documents kept changing under every attempt.
 */
export async function blockUser(deps: BlockDeps, blockerId: string, targetId: string): Promise<Block> {
  refuseSelf(blockerId, targetId);
  const target = await deps.models.User.findById(oid(targetId), { deletedAt: 1 }).lean<Pick<UserDoc, "_id" | "deletedAt">>().exec();
  if (!target || target.deletedAt) throw new NotFoundError("User not found");
  const blocks = await updateBlocks(deps, blockerId, (current) => {
    if (current.some((b) => b.userId.equals(targetId))) return undefined;
    if (current.length >= MAX_BLOCKS) {
      throw new ValidationError(`You can block at most ${MAX_BLOCKS} users`, [{ path: "userId", message: `at most ${MAX_BLOCKS} users can be blocked` }]);
    }
    return [...current, { userId: oid(targetId), createdAt: new Date() }];
  });
  await syncBlockState(deps, blockerId, targetId);
  return toBlock(blocks.find((b) => b.userId.equals(targetId))!);
}

/**
 * `blockerId` no longer blocks `targetId`. Unblocking a user who is not blocked (or does not exist)
 * changes nothing and succeeds.
 *
 * @throws {ValidationError} when `targetId` is the caller.
 * @throws {ConflictError} when the users' documents kept changing under every attempt.
 */
export async function unblockUser(deps: BlockDeps, blockerId: string, targetId: string): Promise<void> {
  refuseSelf(blockerId, targetId);
  await updateBlocks(deps, blockerId, (current) => {
    const kept = current.filter((b) => !b.userId.equals(targetId));
    return kept.length === current.length ? undefined : kept;
  });
  await syncBlockState(deps, blockerId, targetId);
}
