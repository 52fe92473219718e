import { describe, expect, it } from "vitest";

import type { Message } from "@parley/protocol";

import { heldLostMessages, isExactGap } from "./recovery.js";

const at = (...seqs: number[]) => seqs.map((seq) => ({ seq }) as Message);

describe("isExactGap", () => {
  it("is true for the contiguous rest of the conversation, or a full contiguous page", () => {
    expect(isExactGap(3, { messages: at(4, 5, 6), hasMore: false, lastSeq: 6 })).toBe(true);
    expect(isExactGap(3, { messages: at(4, 5), hasMore: true, lastSeq: 90 })).toBe(true);
    expect(isExactGap(6, { messages: [], hasMore: false, lastSeq: 6 })).toBe(true);
    expect(isExactGap(0, { messages: at(1), hasMore: false, lastSeq: 1 })).toBe(true);
  });

  it("is false when a seq is missing anywhere, or the answer stops short of the last seq", () => {
    expect(isExactGap(3, { messages: at(5, 6), hasMore: false, lastSeq: 6 })).toBe(false);
    expect(isExactGap(3, { messages: at(4, 6), hasMore: true, lastSeq: 9 })).toBe(false);
    expect(isExactGap(3, { messages: at(4, 5), hasMore: false, lastSeq: 6 })).toBe(false);
    expect(isExactGap(3, { messages: [], hasMore: false, lastSeq: 6 })).toBe(false);
  });

  it("is false for a client ahead of the conversation's counter", () => {
    expect(isExactGap(8, { messages: [], hasMore: false, lastSeq: 6 })).toBe(false);
  });
});

describe("heldLostMessages", () => {
  const current = { id: "e2", base: 5 };

  it("is true only for another epoch's client above the current base", () => {
    expect(heldLostMessages({ afterSeq: 6, epoch: "e1" }, current)).toBe(true);
    expect(heldLostMessages({ afterSeq: 5, epoch: "e1" }, current)).toBe(false);
    expect(heldLostMessages({ afterSeq: 9, epoch: "e2" }, current)).toBe(false);
    expect(heldLostMessages({ afterSeq: 9 }, current)).toBe(false);
  });
});
