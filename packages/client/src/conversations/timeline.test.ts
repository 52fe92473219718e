import { describe, expect, it } from "vitest";

import { msg, OTHER, USER } from "../testing/harness.js";
import { asDeleted, contiguousLast, dropAbove, mergeMessages, newerOf, withReaction } from "./timeline.js";

describe("the timeline", () => {
  it("merges by seq, in order, each seq once, and returns the same array when nothing changed", () => {
    const items = mergeMessages([], [msg(3), msg(1), msg(2)]);
    expect(items.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(mergeMessages(items, [msg(2)])).toBe(items);
    expect(mergeMessages(items, [])).toBe(items);
  });

  it("keeps the higher rev, never an older one", () => {
    const v1 = msg(1, { content: "v1" });
    const v3 = msg(1, { content: "v3", rev: 3, editedAt: "2026-01-01T00:00:00.000Z" });
    const v2 = msg(1, { content: "v2", rev: 2 });
    const items = mergeMessages(mergeMessages([v1], [v3]), [v2]);
    expect(items[0]?.content).toBe("v3");
    expect(newerOf(v3, v3)).toBe(v3);
  });

  it("never undoes a deletion, and keeps the send state across newer revs", () => {
    const deleted = asDeleted({ ...msg(1, { rev: 1, reactions: { "👍": [OTHER] } }), state: "sent" }, "2026-01-01T00:00:00.000Z");
    expect(deleted).toMatchObject({ content: "", deletedAt: "2026-01-01T00:00:00.000Z", state: "sent" });
    expect(deleted.reactions).toBeUndefined();
    // An edit that was applied before the delete, arriving late with a higher rev than the local copy.
    expect(newerOf(deleted, msg(1, { rev: 2, content: "edited" }))).toBe(deleted);
    // The server's deleted state replaces the local one, and the state stays.
    const server = msg(1, { rev: 2, content: "", deletedAt: "2026-01-01T00:00:01.000Z" });
    expect(newerOf(deleted, server)).toEqual({ ...server, state: "sent" });
    expect(newerOf({ ...msg(1), state: "persisted" }, { ...msg(1, { rev: 1 }), state: "sent" }).state).toBe("persisted");
  });

  it("holds a message a sync or history answer says is stored as persisted, whatever it held before", () => {
    const sent = mergeMessages([], [{ ...msg(1), state: "sent" }]);
    const synced = mergeMessages(sent, [{ ...msg(1), persisted: true }]);
    expect(synced[0]).toEqual({ ...msg(1), state: "persisted" });
    expect(synced[0]).not.toHaveProperty("persisted");
    expect(mergeMessages([], [{ ...msg(2, { rev: 1 }), persisted: true }])[0]?.state).toBe("persisted");
    // An answer without the flag (not stored yet, or not known) takes nothing away.
    expect(mergeMessages(synced, [msg(1)])).toBe(synced);
  });

  it("replaces a message held at a seq by another message with that seq (a seq reused after an epoch change)", () => {
    const items = mergeMessages([msg(5, { id: "x".repeat(24), content: "lost" })], [msg(5, { content: "real" })]);
    expect(items.map((m) => m.content)).toEqual(["real"]);
  });

  it("finds the highest contiguous seq from last, and drops above a base", () => {
    const items = mergeMessages([], [msg(1), msg(2), msg(3), msg(5), msg(6)]);
    expect(contiguousLast(items, 0)).toBe(3);
    expect(contiguousLast(items, 4)).toBe(6);
    expect(contiguousLast(items, 6)).toBe(6);
    expect(dropAbove(items, 3).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(dropAbove(items, 9)).toBe(items);
  });

  it("applies reactions idempotently", () => {
    const m = msg(1);
    const once = withReaction(m, { userId: USER, emoji: "👍", added: true });
    expect(once.reactions).toEqual({ "👍": [USER] });
    expect(withReaction(once, { userId: USER, emoji: "👍", added: true })).toBe(once);
    const twice = withReaction(once, { userId: OTHER, emoji: "👍", added: true });
    expect(twice.reactions).toEqual({ "👍": [USER, OTHER] });
    const removed = withReaction(withReaction(twice, { userId: USER, emoji: "👍", added: false }), { userId: OTHER, emoji: "👍", added: false });
    expect(removed.reactions).toBeUndefined();
  });
});
