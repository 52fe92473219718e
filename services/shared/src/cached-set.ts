/**
 * Membership tests on a cached set: a Redis set that is cached at all iff its version key exists, since
 * an empty set has no key of its own. The conversation member cache and the block peer cache are such
 * sets; each keeps its set and its version under one hash tag, so the script touches one slot.
 */
import { Script, type RedisClient } from "./redis.js";

/**
 * Which of ARGV are in the set KEYS[1]: `{1, 0|1 …}` in ARGV's order, or `{0}` if the set is not cached
 * (its version KEYS[2] does not exist).
 */
const membersAmongScript = new Script<[1, ...(0 | 1)[]] | [0]>(
  "cached-set-members-among",
  `
if redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
local found = redis.call('SMISMEMBER', KEYS[1], unpack(ARGV))
table.insert(found, 1, 1)
return found
`,
);

/**
 * Which of `members` (at least one) are in the cached set `setKey`, in their order; undefined when the
 * set is not cached (`versionKey` is absent).
 */
export async function cachedMembersAmong(
  redis: RedisClient,
  keys: { set: string; version: string },
  members: readonly string[],
): Promise<boolean[] | undefined> {
  const reply = await membersAmongScript.run(redis, [keys.set, keys.version], members);
  return reply[0] === 1 ? reply.slice(1).map((flag) => flag === 1) : undefined;
}
