/**
 * Reading presence: a user is online while their connections hash (`{u:<id>}:conns`, written by the
 * gateways) is not empty. Gateways maintain it; anyone may read it with these functions.
 */
import type { RedisClient } from "./redis.js";
import type { RedisKeys } from "./redis-keys.js";
import { pipelinePerNode } from "./redis-slots.js";
import type { Presence } from "@parley/protocol";

/**
 * Presence of `userIds` in one round trip per Redis node (a pipeline per node: per user, the size of
 * the connections hash and the last-seen time, both in the user's slot).
 */
export async function readPresence(
  redis: RedisClient,
  keys: RedisKeys,
  userIds: readonly string[],
): Promise<Record<string, Presence>> {
  const unique = [...new Set(userIds)];
  if (unique.length === 0) return {};
  const replies = await pipelinePerNode(redis, unique, (id) => keys.userConnections(id), (pipeline, id) =>
    pipeline.hlen(keys.userConnections(id)).get(keys.userLastSeen(id)),
  );
  const presence: Record<string, Presence> = {};
  unique.forEach((id, i) => {
    const [[connErr, connections] = [], [seenErr, lastSeen] = []] = replies[i]!;
    if (connErr) throw connErr;
    if (seenErr) throw seenErr;
    presence[id] = {
      status: Number(connections) > 0 ? "online" : "offline",
      lastSeen: typeof lastSeen === "string" ? lastSeen : null,
    };
  });
  return presence;
}

/** The subset of `userIds` with no live socket on any gateway. */
export async function offlineUsers(redis: RedisClient, keys: RedisKeys, userIds: readonly string[]): Promise<string[]> {
  const presence = await readPresence(redis, keys, userIds);
  return Object.entries(presence)
    .filter(([, p]) => p.status === "offline")
    .map(([id]) => id);
}
