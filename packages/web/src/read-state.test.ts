/** Read pointers on screen: where "New messages" starts, and where each member's read marker goes. */
import { describe, expect, it } from "vitest";

import { firstUnread, readMarkers } from "./read-state.js";

const m = (seq: number, senderId: string) => ({ seq, senderId });

describe("firstUnread", () => {
  const items = [m(1, "ada"), m(2, "bob"), m(3, "ada"), m(4, "ada"), m(5, "bob")];

  it("is the first message after the pointer from someone else", () => {
    expect(firstUnread(items, "ada", 1)).toEqual(m(2, "bob"));
    // Own messages after the pointer are not news: the divider goes above the next other's.
    expect(firstUnread(items, "ada", 2)).toEqual(m(5, "bob"));
    expect(firstUnread(items, "bob", 0)).toEqual(m(1, "ada"));
  });

  it("is none when everything from others is read", () => {
    expect(firstUnread(items, "ada", 5)).toBeUndefined();
    expect(firstUnread(items, "bob", 4)).toBeUndefined();
    expect(firstUnread([], "ada", 0)).toBeUndefined();
  });
});

describe("readMarkers", () => {
  const items = [m(1, "ada"), m(2, "bob"), m(3, "ada"), m(4, "cat"), m(6, "ada"), m(7, "bob")];

  it("puts each other member on the latest own message they have read, in the members' order", () => {
    const markers = readMarkers(items, "ada", ["ada", "bob", "cat", "dan"], { ada: 7, bob: 7, cat: 3, dan: 5 });
    expect([...markers.entries()]).toEqual([
      [6, ["bob"]],
      [3, ["cat", "dan"]],
    ]);
  });

  it("leaves out this user, members who read none of its messages, and pointers of non-members", () => {
    expect([...readMarkers(items, "ada", ["ada", "bob"], { ada: 7, bob: 0, eve: 7 }).entries()]).toEqual([]);
    expect([...readMarkers(items, "ada", ["ada", "bob"], { ada: 7 }).entries()]).toEqual([]);
    expect([...readMarkers([m(2, "bob")], "ada", ["ada", "bob"], { bob: 2 }).entries()]).toEqual([]);
  });

  it("counts a message as read at the pointer's own seq", () => {
    expect([...readMarkers(items, "ada", ["bob"], { bob: 1 }).entries()]).toEqual([[1, ["bob"]]]);
    expect([...readMarkers(items, "ada", ["bob"], { bob: 5 }).entries()]).toEqual([[3, ["bob"]]]);
  });
});
