/**
 * Hash slots of Redis Cluster, and pipelines split by the node that serves them.
 *
 * On a Redis Cluster an ioredis pipeline must stay on one node: every key it touches must belong to
 * slots served by the same node. A read that spans many conversations or users (a listing's pointers,
 * a presence query, a batch's member sets) is therefore split into one pipeline per node, all sent at
 * once: one round trip per node instead of one per key. On a single Redis it stays one pipeline.
 */
import type { ChainableCommander, Cluster, Redis } from "ioredis";

/** A single Redis or a Cluster (`RedisClient` of redis.ts, named here so that config.ts can use this module). */
type RedisClient = Redis | Cluster;

/** Number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16_384;

/**
 * The part of `key` that Redis hashes: the content of the first `{…}` when it is not empty, else the
 * whole key (Redis Cluster's hash tag rule).
 */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  if (open < 0) return key;
  const close = key.indexOf("}", open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** Whether `prefix` carries a hash tag, so that every key `${prefix}…` lands in one slot. */
export function hasHashTag(prefix: string): boolean {
  return hashTag(prefix) !== prefix;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The hash slot of `key`, as `CLUSTER KEYSLOT` computes it. */
export function keySlot(key: string): number {
  return crc16(Buffer.from(hashTag(key), "utf8")) % SLOT_COUNT;
}

/**
 * Groups `items` by the node serving the slot of `keyOf(item)`, keeping their order within a group.
 * A single Redis is one group. On a Cluster whose slot map is not known yet (still connecting), each
 * slot is a group of its own, which is always valid, only less batched.
 */
export function groupByNode<T>(redis: RedisClient, items: readonly T[], keyOf: (item: T) => string): T[][] {
  if (!("slots" in redis)) return items.length > 0 ? [[...items]] : [];
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const slot = keySlot(keyOf(item));
    // ioredis accepts a pipeline whose slots all map to the same list of nodes (master and replicas).
    const nodes = redis.slots[slot];
    const group = nodes && nodes.length > 0 ? nodes.join(";") : `slot:${slot}`;
    let members = groups.get(group);
    if (!members) groups.set(group, (members = []));
    members.push(item);
  }
  return [...groups.values()];
}

/** One command's answer in a pipeline: its error or its reply. */
export type PipelineReply = [error: Error | null, reply: unknown];

/**
 * Runs the commands that `queue` adds for each item, in one pipeline per node ({@link groupByNode}),
 * all pipelines at once. Every command `queue` adds for an item must touch keys of the slot of
 * `keyOf(item)` only (keys of one hash tag).
 *
 * @returns each item's replies, in the order of `items` and, per item, of its commands.
 */
export async function pipelinePerNode<T>(
  redis: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  queue: (pipeline: ChainableCommander, item: T) => void,
): Promise<PipelineReply[][]> {
  const results: PipelineReply[][] = items.map(() => []);
  const indexed = items.map((item, index) => ({ item, index }));
  await Promise.all(
    groupByNode(redis, indexed, ({ item }) => keyOf(item)).map(async (group) => {
      const pipeline = redis.pipeline();
      const counts = group.map(({ item }) => {
        const before = pipeline.length;
        queue(pipeline, item);
        return pipeline.length - before;
      });
      const replies = ((await pipeline.exec()) ?? []) as PipelineReply[];
      let at = 0;
      group.forEach(({ index }, i) => {
        results[index] = replies.slice(at, at + counts[i]!);
        at += counts[i]!;
      });
    }),
  );
  return results;
}
