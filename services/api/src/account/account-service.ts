/**
 * What a logged-in user does to their own account: change the password (every other session ends),
 * change the profile, and delete the account.
 *
 * Deleting an account, in an order that a retry can finish if a step fails: the sessions are revoked
 * first (every socket cut, every token refused), then the user leaves every conversation, then the
 * erasure of their messages is queued if asked for, and last the account becomes a tombstone (nothing
 * of the account remains but its id, which its messages name as sender, and its creation time). Until
 * that last step the user can log in again and repeat the request.
 */
import { Types } from "mongoose";
import type { z } from "zod";

import { AuthError, ConflictError, InvalidCredentialsError } from "@parley/shared/errors";
import { toPublicUser, type UserDoc } from "@parley/shared/models";
import { enqueueErasure, enqueueUserAttachmentPurge } from "@parley/shared/queues";
import type { ChangePasswordBody, PublicUser, UpdateMeBody } from "@parley/protocol";

import type { ApiContext } from "../context.js";
import { leaveEveryConversation } from "../conversations/membership-service.js";
import type { Caller } from "../http/authenticate.js";

/** What the account services need from the API context. */
export type AccountServiceDeps = Pick<ApiContext, "models" | "sessions" | "hasher" | "limits" | "cache" | "events" | "limiter" | "accounts" | "blocks" | "attachmentQueue">;

const oid = (id: string) => new Types.ObjectId(id);

/** The `usernameLower` of a deleted account: a value no registration can take (usernames have no ':'). */
export function tombstoneUsername(userId: string): string {
  return `deleted:${userId}`;
}

/**
 * Checks the caller's password, after taking a `login` token of their username
 * (`AccountLimits.beforePasswordCheck`). Resolves with the stored hash.
 * @throws {InvalidCredentialsError} for a wrong password.
 * @throws {RateLimitedError} when the username's `login` bucket is empty.
 * @throws {AuthError} `USER_NOT_FOUND` when the account was deleted meanwhile.
 * @throws {UnavailableError} when the hasher is at capacity, or the limiter cannot reach Redis.
 */
async function confirmPassword(deps: AccountServiceDeps, caller: Caller, password: string): Promise<string> {
  await deps.limits.beforePasswordCheck(caller.user.username);
  // By _id: a key lookup on every database.
  const user = await deps.models.User.findById(oid(caller.id), { passwordHash: 1, deletedAt: 1 })
    .lean<Pick<UserDoc, "_id" | "passwordHash" | "deletedAt">>()
    .exec();
  if (!user || user.deletedAt) throw new AuthError("USER_NOT_FOUND", "This account no longer exists");
  if (!(await deps.hasher.verify(password, user.passwordHash))) throw new InvalidCredentialsError("Wrong password");
  return user.passwordHash;
}

/**
 * Replaces the caller's password, then revokes every other session of theirs (their sockets are cut
 * on every gateway, their tokens refused); the caller's own session goes on.
 * @throws {InvalidCredentialsError} when `currentPassword` is wrong.
 * @throws {ConflictError} when the password was changed by another request meanwhile.
 * @throws {RateLimitedError}, {UnavailableError}: see {@link confirmPassword}.
 */
export async function changePassword(deps: AccountServiceDeps, caller: Caller, input: z.output<typeof ChangePasswordBody>): Promise<void> {
  const current = await confirmPassword(deps, caller, input.currentPassword);
  const passwordHash = await deps.hasher.hash(input.newPassword);
  // Conditional on the hash just checked, so that of two concurrent changes only one wins.
  const { matchedCount } = await deps.models.User.updateOne(
    { _id: oid(caller.id), deletedAt: null, passwordHash: current },
    { $set: { passwordHash } },
  ).exec();
  if (matchedCount === 0) throw new ConflictError("The password was changed meanwhile: log in again");
  await deps.sessions.revokeAll(caller.id, "password-changed", { except: caller.sessionId });
}

/**
 * Changes the caller's display name and avatar (`avatarUrl: null` removes it); fields left out stay.
 * @throws {AuthError} `USER_NOT_FOUND` when the account was deleted meanwhile.
 */
export async function updateProfile(deps: Pick<AccountServiceDeps, "models">, caller: Caller, input: z.output<typeof UpdateMeBody>): Promise<PublicUser> {
  const $set: Partial<Pick<UserDoc, "displayName" | "avatarUrl">> = {};
  if (input.displayName !== undefined) $set.displayName = input.displayName;
  if (input.avatarUrl !== undefined) $set.avatarUrl = input.avatarUrl;
  // No projection: FerretDB does not implement one on findAndModify.
  const user = await deps.models.User.findOneAndUpdate({ _id: oid(caller.id), deletedAt: null }, { $set }, { returnDocument: "after" })
    .lean<UserDoc>()
    .exec();
  if (!user) throw new AuthError("USER_NOT_FOUND", "This account no longer exists");
  return toPublicUser(user);
}

/** The outcome of {@link deleteAccount}. */
export interface DeletionResult {
  /** The erasure of the user's messages was queued and completes in the worker, asynchronously. */
  erasing: boolean;
}

/**
 * Deletes the caller's account, after checking the password (see the module comment for the order):
 * every session revoked, every conversation left, the account made a tombstone, and with `erase` the
 * content of every message the user sent deleted by the worker.
 * @throws {InvalidCredentialsError} when `password` is wrong.
 * @throws {RateLimitedError}, {UnavailableError}: see {@link confirmPassword}.
 */
export async function deleteAccount(deps: AccountServiceDeps, caller: Caller, password: string, options: { erase: boolean }): Promise<DeletionResult> {
  await confirmPassword(deps, caller, password);
  const userId = caller.id;
  await deps.sessions.revokeAll(userId, "account-deleted");
  await leaveEveryConversation(deps, userId);
  // Before the tombstone, so that no deleted account lacks the erasure it asked for; the worker waits
  // for the tombstone before erasing anything.
  if (options.erase) await enqueueErasure(deps.accounts, userId);
  // The account's files go whether or not its messages are erased: no one can reach them any more.
  await enqueueUserAttachmentPurge(deps.attachmentQueue, userId);

  const tombstone: Partial<UserDoc> = {
    deletedAt: new Date(),
    username: "",
    usernameLower: tombstoneUsername(userId),
    displayName: "",
    avatarUrl: null,
    passwordHash: "",
    lastSeen: null,
    blocks: [],
    blockedBy: [],
    sessionIds: [],
  };
  const before = await deps.models.User.findOneAndUpdate({ _id: oid(userId), deletedAt: null }, { $set: tombstone, $inc: { blocksVersion: 1 } }, { returnDocument: "before" })
    .lean<UserDoc>()
    .exec();
  if (before) {
    // A login that raced the first revocation opened a session the tombstone no longer lists.
    await deps.sessions.revokeActive(userId, before.sessionIds, "account-deleted");
  }
  // And a group that added the user meanwhile (additions of a tombstone are refused from now on).
  await leaveEveryConversation(deps, userId);
  return { erasing: options.erase };
}
