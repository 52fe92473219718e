import { describe, expect, it } from "vitest";

import { bareContentType, displayName, kindOf, newLocalAttachment } from "./local-attachment.js";

describe("a local attachment", () => {
  it("is uploaded as a bare, lower-case MIME type", () => {
    expect(bareContentType("audio/webm;codecs=opus")).toBe("audio/webm");
    expect(bareContentType("Text/Plain; charset=UTF-8")).toBe("text/plain");
    expect(bareContentType("")).toBe("application/octet-stream");
  });

  it("guesses its kind from the type, as the server does", () => {
    expect(["image/png", "video/mp4", "audio/ogg", "application/pdf", "text/plain"].map(kindOf)).toEqual(["image", "video", "audio", "file", "file"]);
  });

  it("has a name the server takes: no path, no control characters, at most 255 code units", () => {
    expect(displayName("  ../etc\\passwd\u0007 ")).toBe(".._etc_passwd_");
    expect(displayName(" \u0000 ")).toBe("_");
    expect(displayName("   ")).toBe("file");
    const long = displayName(`${"a".repeat(254)}😀`);
    expect(long).toBe("a".repeat(254));
    expect(displayName("é".repeat(300))).toHaveLength(255);
  });

  it("takes a File's name and type, a Blob's type, or what it is told", () => {
    const file = new File(["<3"], "love.txt", { type: "text/plain;charset=utf-8" });
    expect(newLocalAttachment(file)).toEqual({ name: "love.txt", size: 2, contentType: "text/plain", kind: "file", file, progress: 0, uploaded: false });
    const blob = new Blob([new Uint8Array(3)]);
    expect(newLocalAttachment(blob)).toMatchObject({ name: "file", size: 3, contentType: "application/octet-stream", kind: "file" });
    expect(newLocalAttachment(blob, { name: "voice.ogg", contentType: "audio/ogg" })).toMatchObject({ name: "voice.ogg", contentType: "audio/ogg", kind: "audio" });
  });
});
