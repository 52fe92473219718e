/** Users and conversations written straight into MongoDB, for tests of one service alone. */
import { Types } from "mongoose";

import { signAccessToken } from "@parley/shared/auth";
import { BlockCache } from "@parley/shared/blocks/block-cache";
import { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { directKey, type Models } from "@parley/shared/models";
import type { RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";
import type { Message } from "@parley/protocol";

import { blockUser } from "../../services/api/src/users/blocks.js";
import { TEST_JWT_SECRET, uniqueSuffix } from "./env.js";

export interface SeededUser {
  id: string;
  username: string;
  token: string;
}

/** An access token of `userId` in a session of its own (which nothing revokes), valid for an hour. */
export function seedToken(userId: string, ttlSeconds = 3600): string {
  return signAccessToken({ userId, sessionId: new Types.ObjectId().toHexString() }, TEST_JWT_SECRET, ttlSeconds).token;
}

export async function seedUser(models: Pick<Models, "User">, label = "user"): Promise<SeededUser> {
  const username = `${label}_${uniqueSuffix()}`;
  const doc = await models.User.create({
    username,
    usernameLower: username.toLowerCase(),
    displayName: username,
    passwordHash: "scrypt$not-a-real-hash",
  });
  const id = doc._id.toHexString();
  return { id, username, token: seedToken(id) };
}

export async function seedConversation(models: Pick<Models, "Conversation">, members: readonly SeededUser[]): Promise<string> {
  const _id = new Types.ObjectId();
  const ids = members.map((m) => new Types.ObjectId(m.id));
  await models.Conversation.create({
    _id,
    type: members.length === 2 ? "direct" : "group",
    name: members.length === 2 ? null : "group",
    key: members.length === 2 ? directKey(members[0]!.id, members[1]!.id) : `g:${_id.toHexString()}`,
    members: ids,
    admins: ids.slice(0, 1),
    createdBy: ids[0],
  });
  return _id.toHexString();
}

/** A group conversation with one random member, for tests that only need a conversation id. */
export async function seedGroupId(models: Pick<Models, "Conversation">): Promise<string> {
  const _id = new Types.ObjectId();
  const member = new Types.ObjectId();
  await models.Conversation.create({ _id, type: "group", name: "t", key: `g:${_id.toHexString()}`, members: [member], admins: [member], createdBy: member });
  return _id.toHexString();
}

/** A well-formed message as the gateway would have produced it, with a random id and sender. */
export function fakeMessage(conversationId: string, seq: number, overrides: Partial<Message> = {}): Message {
  return {
    id: new Types.ObjectId().toHexString(),
    conversationId,
    seq,
    senderId: new Types.ObjectId().toHexString(),
    clientMsgId: `c-${seq}-${uniqueSuffix()}`,
    content: `message ${seq}`,
    type: "text",
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

/**
 * `blocker` blocks `target` exactly as `POST /api/users/me/blocks` does (MongoDB, then both users' peer
 * caches and their direct conversation's cached state), for tests of a gateway without the API.
 */
export async function seedBlock(models: Models, redis: RedisClient, keys: RedisKeys, blocker: SeededUser, target: SeededUser): Promise<void> {
  const deps = { models, cache: new ConversationCache(redis, keys, models), blocks: new BlockCache(redis, keys, models) };
  await blockUser(deps, blocker.id, target.id);
}
