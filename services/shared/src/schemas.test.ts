import { describe, expect, it } from "vitest";

import { ValidationError } from "./errors.js";
import { codePointLength, MAX_CONTENT_LENGTH, parseInput, SendMessage } from "./schemas.js";

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
