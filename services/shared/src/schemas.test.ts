import { describe, expect, it } from "vitest";

import { ValidationError } from "./errors.js";
import {
  codePointLength,
  findMalformedText,
  isWellFormedText,
  MAX_CONTENT_LENGTH,
  SendMessage,
} from "@parley/protocol";
import { parseInput } from "./schemas.js";

const conversationId = "0123456789abcdef01234567";

describe("SendMessage", () => {
  it("trims content and defaults the type to text", () => {
    const parsed = parseInput(SendMessage, { conversationId, clientMsgId: "c1", content: "  hi  " }, "payload");
    expect(parsed).toEqual({ conversationId, clientMsgId: "c1", content: "hi", type: "text" });
  });

  it("counts an emoji as one character", () => {
    const content = "😀".repeat(MAX_CONTENT_LENGTH);
    expect(content.length).toBe(2 * MAX_CONTENT_LENGTH);
    expect(SendMessage.safeParse({ conversationId, clientMsgId: "c1", content }).success).toBe(true);
    expect(SendMessage.safeParse({ conversationId, clientMsgId: "c1", content: `${content}x` }).success).toBe(false);
  });

  it.each([
    ["blank content", { conversationId, clientMsgId: "c", content: "   " }, "content"],
    ["long clientMsgId", { conversationId, clientMsgId: "x".repeat(65), content: "a" }, "clientMsgId"],
    ["empty clientMsgId", { conversationId, clientMsgId: "", content: "a" }, "clientMsgId"],
    ["bad conversation id", { conversationId: "nope", clientMsgId: "c", content: "a" }, "conversationId"],
    ["unknown type", { conversationId, clientMsgId: "c", content: "a", type: "sticker" }, "type"],
  ])("refuses %s, naming the field", (_, payload, field) => {
    expect.assertions(3);
    try {
      parseInput(SendMessage, payload, "message:send payload");
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues.map((i) => i.path)).toEqual([field]);
      expect((err as ValidationError).message).toContain(field);
    }
  });

  it("refuses a payload that is not an object", () => {
    expect(() => parseInput(SendMessage, "hello", "payload")).toThrow(ValidationError);
    expect(() => parseInput(SendMessage, undefined, "payload")).toThrow(ValidationError);
  });
});

describe("codePointLength", () => {
  it("counts code points, not UTF-16 units", () => {
    expect(codePointLength("a😀b")).toBe(3);
  });
});

describe("the well-formed text rule of parseInput", () => {
  const LONE = ["\ud800", "\udc00", "a\ud83dz", "x\ude00", "nul\u0000byte"];

  it("refuses a lone surrogate or a NUL in any string, at any depth, naming its path", () => {
    for (const bad of LONE) {
      expect(() => parseInput(SendMessage, { conversationId: "a".repeat(24), clientMsgId: `cid-${bad}-x`, content: "hi" }, "payload")).toThrow(
        expect.objectContaining({ code: "VALIDATION", issues: [expect.objectContaining({ path: "clientMsgId" })] }),
      );
      expect(findMalformedText({ a: [{ b: ["ok", bad] }] })).toEqual({ path: "a.0.b.1", message: expect.any(String) });
    }
  });

  it("refuses such a string as an object key too", () => {
    expect(findMalformedText({ reactions: { "\ud800": [] } })).toEqual({ path: "reactions", message: expect.stringContaining("keys") });
  });

  it("refuses input nested deeper than any payload needs, before walking it all", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(findMalformedText(deep)).toEqual({ path: expect.any(String), message: expect.stringContaining("nested") });
  });

  it("accepts every well-formed string, surrogate pairs (emoji) included", () => {
    expect(isWellFormedText("héllo 👋🏽 世界 \u{1F1EB}\u{1F1F7}")).toBe(true);
    expect(findMalformedText({ content: "👍", list: ["a", 1, null, true], nested: { "κλειδί": "τιμή" } })).toBeUndefined();
    expect(parseInput(SendMessage, { conversationId: "a".repeat(24), clientMsgId: "c-👍", content: "ok 👍" }, "payload").clientMsgId).toBe("c-👍");
  });
});
