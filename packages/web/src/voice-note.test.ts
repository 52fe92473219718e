/** Voice notes' names, recording type and the durations shown. */
import { describe, expect, it } from "vitest";

import { bareType, clockDuration, isVoiceNote, recordingType, voiceNoteName } from "./voice-note.js";

describe("voice notes", () => {
  it("records as the first type the browser supports, Opus in WebM first", () => {
    expect(recordingType(() => true)).toBe("audio/webm;codecs=opus");
    expect(recordingType((t) => t.startsWith("audio/ogg"))).toBe("audio/ogg;codecs=opus");
    expect(recordingType((t) => t === "audio/mp4")).toBe("audio/mp4");
    expect(recordingType(() => false)).toBeUndefined();
  });

  it("names a note by when it was recorded (local time) and its container, and knows its own notes by name", () => {
    const at = new Date(2026, 11, 2, 17, 42, 9);
    expect(voiceNoteName(at, "audio/webm;codecs=opus")).toBe("voice-note-2026-12-02-1742.webm");
    expect(voiceNoteName(at, "audio/ogg; codecs=opus")).toBe("voice-note-2026-12-02-1742.ogg");
    expect(voiceNoteName(new Date(2026, 0, 5, 8, 3), "audio/mp4")).toBe("voice-note-2026-01-05-0803.m4a");
    expect(isVoiceNote({ kind: "audio", name: voiceNoteName(at, "audio/webm") })).toBe(true);
    expect(isVoiceNote({ kind: "audio", name: "song.webm" })).toBe(false);
    expect(isVoiceNote({ kind: "file", name: "voice-note-2026-12-02-1742.webm" })).toBe(false);
    expect(bareType("Audio/WebM;codecs=opus")).toBe("audio/webm");
  });

  it("writes durations as a player does", () => {
    expect(clockDuration(0)).toBe("0:00");
    expect(clockDuration(7_900)).toBe("0:07");
    expect(clockDuration(245_000)).toBe("4:05");
    expect(clockDuration(3_723_000)).toBe("1:02:03");
  });
});
