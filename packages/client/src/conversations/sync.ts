/**
 * Recovery of one conversation with `sync`, as docs/protocol.md ("Recovering missed messages") lays it
 * out: page from `last` until nothing more, drop what a new epoch invalidated, and say when the server
 * cannot fill a gap yet.
 */
import type { EventPayload, Message, SyncResult } from "@parley/protocol";

/** Messages one `sync` request asks for. */
export const SYNC_PAGE_LIMIT = 200;

/** What the app is told when the timeline may not be what the server holds. */
export interface Discontinuity {
  /**
   * `epoch`: the server lost recent state; messages above `epochBase` were dropped and come back as the
   * server has them. `missing`: some seqs cannot be read right now; the SDK retries with backoff.
   */
  reason: "epoch" | "missing";
  /** With `epoch`: the last seq of the previous epoch. */
  epochBase?: number;
}

/** The timeline as recovery sees it. */
export interface SyncTimeline {
  readonly conversationId: string;
  /** The highest seq held with nothing missing below it. */
  last(): number;
  /** The epoch of the last `sync` answer, if any. */
  epoch(): string | undefined;
  /** Drops every message with seq > `base`, and moves `last` down to `base` at most. */
  dropAbove(base: number): void;
  /** Merges `messages` (by seq and rev), stores `epoch`, and moves `last` up as far as contiguous. */
  apply(messages: readonly Message[], epoch: string): void;
  /**
   * The lowest seq at or below `last` of a message this client sent that is not known to be stored
   * yet, if any: the sync starts below it, so that its answer says which of them are (`persisted`),
   * making up for a `message:persisted` this client missed.
   */
  unconfirmed?(): number | undefined;
}

/** Sends one `sync` request. */
export type SyncRequest = (payload: EventPayload<"sync">) => Promise<SyncResult>;

/**
 * Syncs `timeline` until it holds everything the server has (`recovered: true`) or the server cannot
 * fill a gap now (`recovered: false`; retry later). Request errors propagate.
 */
export async function recover(
  timeline: SyncTimeline,
  request: SyncRequest,
  onDiscontinuity: (d: Discontinuity) => void,
  limit = SYNC_PAGE_LIMIT,
): Promise<{ recovered: boolean }> {
  // The first request also reads again the recent messages this client sent that are not known stored.
  const unconfirmed = timeline.unconfirmed?.();
  let from = unconfirmed === undefined ? timeline.last() : Math.max(0, Math.min(timeline.last(), unconfirmed - 1));
  for (;; from = timeline.last()) {
    const afterSeq = from;
    const epoch = timeline.epoch();
    const res = await request({ conversationId: timeline.conversationId, afterSeq, ...(epoch !== undefined && { epoch }), limit });
    const epochChanged = epoch !== undefined && res.epoch !== epoch;
    if (epochChanged) {
      // Drop even when `recovered` is true: messages received out of order may sit above the base.
      timeline.dropAbove(res.epochBase);
      onDiscontinuity({ reason: "epoch", epochBase: res.epochBase });
    }
    timeline.apply(res.messages, res.epoch);
    if (!res.recovered && !epochChanged) return { recovered: false };
    if (res.recovered && !res.hasMore) return { recovered: true };
    // More pages, or the first answer under a new epoch: go on from `last`, as long as it moves.
    if (!epochChanged && timeline.last() <= afterSeq) return { recovered: false };
  }
}
