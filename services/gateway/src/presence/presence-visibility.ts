/**
 * Who may see whose presence: a user's contacts, the users who share a conversation with them and have
 * no block with them in either direction. Everyone else is answered `unknown`, the same whether the user
 * exists, is a stranger or is a block peer, so that a query tells nothing about them.
 */
import type { BlockCache } from "@parley/shared/blocks/block-cache";
import { NotFoundError } from "@parley/shared/errors";
import type { ConversationCache } from "@parley/shared/messages/conversation-cache";
import { readPresence } from "@parley/shared/presence";
import type { RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";
import type { Presence } from "@parley/protocol";

/** What a caller sees of a user who is not their contact. */
export const UNKNOWN_PRESENCE: Presence = Object.freeze({ status: "unknown", lastSeen: null });

/** Member sets checked at once; the rest only if some ids are still not found. */
const CONVERSATIONS_PER_ROUND = 16;

export interface PresenceVisibilityDeps {
  redis: RedisClient;
  keys: RedisKeys;
  cache: Pick<ConversationCache, "membersAmong">;
  blocks: Pick<BlockCache, "peersOf">;
}

/**
 * The users of `userIds` who are members of at least one of `conversationIds`, from the cached member
 * sets (one SMISMEMBER per conversation, a few conversations at a time, loading a set Redis does not
 * hold), stopping as soon as every one is found.
 */
export async function membersOfAny(
  cache: Pick<ConversationCache, "membersAmong">,
  conversationIds: readonly string[],
  userIds: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  let remaining = [...userIds];
  for (let i = 0; i < conversationIds.length && remaining.length > 0; i += CONVERSATIONS_PER_ROUND) {
    const asked = remaining;
    const rounds = await Promise.all(
      conversationIds.slice(i, i + CONVERSATIONS_PER_ROUND).map((id) =>
        cache.membersAmong(id, asked).catch((err: unknown) => {
          // Deleted since the socket joined its room: it makes no one a contact.
          if (err instanceof NotFoundError) return [];
          throw err;
        }),
      ),
    );
    for (const flags of rounds) flags.forEach((member, k) => member && found.add(asked[k]!));
    remaining = remaining.filter((id) => !found.has(id));
  }
  return found;
}

/**
 * The presence of `userIds` as `callerId` may see it, given the conversations the caller's socket is in:
 * the caller's own as is, a contact's as stored, anyone else's {@link UNKNOWN_PRESENCE}.
 */
export async function visiblePresence(
  { redis, keys, cache, blocks }: PresenceVisibilityDeps,
  callerId: string,
  conversationIds: readonly string[],
  userIds: readonly string[],
): Promise<Record<string, Presence>> {
  const unique = [...new Set(userIds)];
  const others = unique.filter((id) => id !== callerId);
  let contacts = new Set<string>();
  if (others.length > 0) {
    const peers = new Set(await blocks.peersOf(callerId));
    contacts = await membersOfAny(cache, conversationIds, others.filter((id) => !peers.has(id)));
  }
  const visible = unique.filter((id) => id === callerId || contacts.has(id));
  const stored = await readPresence(redis, keys, visible);
  return Object.fromEntries(unique.map((id) => [id, stored[id] ?? UNKNOWN_PRESENCE]));
}
