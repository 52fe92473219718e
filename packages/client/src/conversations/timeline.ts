/**
 * The confirmed messages of a conversation as pure functions on an immutable, seq-ordered array: merge
 * by `rev`, contiguity, and the changes events describe without a full state.
 */
import type { Message, MessageReaction } from "@parley/protocol";

/** A confirmed message, with what this client knows of its delivery (see {@link TimelineMessage.state}). */
export interface TimelineMessage extends Message {
  /**
   * For messages sent from this client: `sent` once acknowledged; for any message: `persisted` once
   * `message:persisted` arrived while it was held, or a `sync` or history answer said it is stored.
   * Absent when unknown (another sender's live message, a message the server has not stored yet).
   */
  state?: "sent" | "persisted";
}

const STATE_RANK = { sent: 1, persisted: 2 } as const;

/** The newer of two states of one message: the higher `rev`, and a deletion is never undone. */
export function newerOf(held: TimelineMessage, incoming: TimelineMessage): TimelineMessage {
  const heldRev = held.rev ?? 0;
  const incomingRev = incoming.rev ?? 0;
  const keepHeld = incomingRev <= heldRev || (held.deletedAt !== undefined && incoming.deletedAt === undefined);
  const base = keepHeld ? held : incoming;
  const state = higherState(held.state, incoming.state);
  if (base.state === state) return base;
  return withState(base, state);
}

function higherState(a: TimelineMessage["state"], b: TimelineMessage["state"]): TimelineMessage["state"] {
  if (!a) return b;
  if (!b) return a;
  return STATE_RANK[a] >= STATE_RANK[b] ? a : b;
}

function withState(message: TimelineMessage, state: TimelineMessage["state"]): TimelineMessage {
  if (state) return { ...message, state };
  const { state: _drop, ...rest } = message;
  return rest;
}

/**
 * A message as the timeline holds it: the server's `persisted: true` (in `sync` and history answers)
 * becomes the state `persisted`, as `message:persisted` makes it, so that a missed event is made up
 * for by the next sync.
 */
function asHeld(message: TimelineMessage): TimelineMessage {
  if (!message.persisted) return message;
  const { persisted: _flag, ...rest } = message;
  return { ...rest, state: "persisted" };
}

/**
 * `items` with `incoming` merged in: by seq (each seq once, in order); a held copy is replaced by a newer
 * state of the same message, or by another message at the same seq (its seq was reused after an epoch
 * change). Returns `items` itself when nothing changed.
 */
export function mergeMessages(items: readonly TimelineMessage[], incoming: readonly TimelineMessage[]): readonly TimelineMessage[] {
  if (incoming.length === 0) return items;
  const bySeq = new Map<number, TimelineMessage>();
  for (const m of items) bySeq.set(m.seq, m);
  let changed = false;
  for (const wire of incoming) {
    const m = asHeld(wire);
    const held = bySeq.get(m.seq);
    const next = !held ? m : held.id !== m.id ? m : newerOf(held, m);
    if (next !== held) {
      bySeq.set(m.seq, next);
      changed = true;
    }
  }
  if (!changed) return items;
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** `items` with `change` applied to the message `id`, or `items` itself when it is not held or unchanged. */
export function updateMessage(
  items: readonly TimelineMessage[],
  id: string,
  change: (m: TimelineMessage) => TimelineMessage,
): readonly TimelineMessage[] {
  const i = items.findIndex((m) => m.id === id);
  if (i < 0) return items;
  const held = items[i] as TimelineMessage;
  const next = change(held);
  if (next === held) return items;
  const copy = items.slice();
  copy[i] = next;
  return copy;
}

/** The messages with seq ≤ `base`. */
export function dropAbove(items: readonly TimelineMessage[], base: number): readonly TimelineMessage[] {
  const kept = items.filter((m) => m.seq <= base);
  return kept.length === items.length ? items : kept;
}

/** The highest seq `s ≥ last` such that every seq in `last + 1 … s` is held. */
export function contiguousLast(items: readonly TimelineMessage[], last: number): number {
  let next = last;
  for (const m of items) {
    if (m.seq <= next) continue;
    if (m.seq !== next + 1) break;
    next = m.seq;
  }
  return next;
}

/** The highest seq held, or 0. */
export function maxSeq(items: readonly TimelineMessage[]): number {
  return items.at(-1)?.seq ?? 0;
}

/**
 * A deleted message, as `message:deleted` describes it (no full state): content and reactions gone.
 * Its `rev` stays: the server's deleted state carries a higher one and replaces this copy.
 */
export function asDeleted(m: TimelineMessage, at: string): TimelineMessage {
  if (m.deletedAt) return m;
  const { reactions: _gone, ...rest } = m;
  return { ...rest, content: "", deletedAt: at };
}

/**
 * `m` with a `message:reaction` applied, idempotently (the user is in, or out of, the emoji's list). Its
 * `rev` stays: a full state with a higher rev replaces it.
 */
export function withReaction(m: TimelineMessage, r: Pick<MessageReaction, "userId" | "emoji" | "added">): TimelineMessage {
  if (m.deletedAt) return m;
  const users = m.reactions?.[r.emoji] ?? [];
  const has = users.includes(r.userId);
  if (has === r.added) return m;
  const nextUsers = r.added ? [...users, r.userId] : users.filter((u) => u !== r.userId);
  const reactions = { ...m.reactions };
  if (nextUsers.length > 0) reactions[r.emoji] = nextUsers;
  else delete reactions[r.emoji];
  const { reactions: _old, ...rest } = m;
  return Object.keys(reactions).length > 0 ? { ...rest, reactions } : rest;
}
