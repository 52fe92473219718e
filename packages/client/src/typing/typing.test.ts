import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONV, connected, flush, OTHER, setup, USER } from "../testing/harness.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const typingEmits = (s: ReturnType<typeof setup>) => s.socket.volatiles.map((v) => v.event);

describe("typing", () => {
  it("emits typing:start at most every 3 s while keys keep coming, volatile, and stops after 5 s idle", async () => {
    const s = setup();
    await connected(s);
    const conv = s.client.conversation(CONV);
    conv.keystroke();
    conv.keystroke();
    await flush(2999);
    conv.keystroke();
    expect(typingEmits(s)).toEqual(["typing:start"]);
    await flush(1);
    conv.keystroke();
    expect(typingEmits(s)).toEqual(["typing:start", "typing:start"]);
    expect(s.socket.volatiles[0]?.payload).toEqual({ conversationId: CONV });
    await flush(4999);
    expect(typingEmits(s)).toHaveLength(2);
    await flush(1);
    expect(typingEmits(s)).toEqual(["typing:start", "typing:start", "typing:stop"]);
    conv.stopTyping();
    expect(typingEmits(s)).toHaveLength(3);
    await s.client.dispose();
  });

  it("stops on send, and buffers nothing while offline", async () => {
    const s = setup();
    const conv = s.client.conversation(CONV);
    conv.keystroke();
    expect(s.socket.volatiles).toEqual([]);
    await connected(s);
    expect(s.socket.volatiles).toEqual([]);
    conv.keystroke();
    conv.send({ content: "x" });
    expect(typingEmits(s)).toEqual(["typing:start", "typing:stop"]);
    await s.client.dispose();
  });

  it("shows other typers until their stop, or 6 s after their last start; never this user", async () => {
    const s = setup();
    await connected(s);
    const conv = s.client.conversation(CONV);
    const B = "f".repeat(24);
    s.socket.push("typing", { conversationId: CONV, userId: OTHER, isTyping: true });
    s.socket.push("typing", { conversationId: CONV, userId: B, isTyping: true });
    s.socket.push("typing", { conversationId: CONV, userId: USER, isTyping: true });
    expect(conv.typing.get()).toEqual([OTHER, B]);
    const snapshot = conv.typing.get();
    await flush(4000);
    s.socket.push("typing", { conversationId: CONV, userId: OTHER, isTyping: true });
    expect(conv.typing.get()).toBe(snapshot);
    await flush(2000);
    expect(conv.typing.get()).toEqual([OTHER]);
    s.socket.push("typing", { conversationId: CONV, userId: OTHER, isTyping: false });
    expect(conv.typing.get()).toEqual([]);
    s.socket.push("typing", { conversationId: CONV, userId: B, isTyping: true });
    await flush(6000);
    expect(conv.typing.get()).toEqual([]);
    await s.client.dispose();
  });
});
