/** What the read pointers mean on screen: where "New messages" starts, and who has read what. */

/** What these rules need of a message. */
export interface Sequenced {
  seq: number;
  senderId: string;
}

/**
 * The first message after `pointer` (this user's read pointer) from someone else: the one the
 * "New messages" divider goes above. `items` are in seq order.
 */
export function firstUnread<T extends Sequenced>(items: readonly T[], selfId: string, pointer: number): T | undefined {
  return items.find((m) => m.seq > pointer && m.senderId !== selfId);
}

/**
 * Where each member's read marker goes: the latest of this user's messages (seq → member ids, in the
 * order of `members`) that each other member has read. A member who read none of them has no marker.
 * `items` are in seq order.
 */
export function readMarkers(items: readonly Sequenced[], selfId: string, members: readonly string[], read: Readonly<Record<string, number>>): Map<number, string[]> {
  const own = items.filter((m) => m.senderId === selfId).map((m) => m.seq);
  const markers = new Map<number, string[]>();
  for (const member of members) {
    const pointer = read[member];
    if (member === selfId || pointer === undefined) continue;
    const seq = latestAtMost(own, pointer);
    if (seq !== undefined) markers.set(seq, [...(markers.get(seq) ?? []), member]);
  }
  return markers;
}

/** The greatest of `sorted` (ascending) that is at most `limit`. */
function latestAtMost(sorted: readonly number[], limit: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= limit) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : sorted[lo - 1];
}
