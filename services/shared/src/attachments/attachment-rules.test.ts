/** What a file is taken for, from its first bytes and the type it was uploaded as. */
import sharp from "sharp";
import { describe, expect, it } from "vitest";

import { ConfigError, loadConfig } from "../config.js";
import { z } from "zod";
import { DEFAULT_ATTACHMENT_TYPES, attachmentConfigShape, inspectContent } from "./attachment-rules.js";

const allowed = new Set<string>(DEFAULT_ATTACHMENT_TYPES);
const png = async () => new Uint8Array(await sharp({ create: { width: 4, height: 4, channels: 3, background: "#fff" } }).png().toBuffer());
/** The first bytes of a WebM (EBML header with DocType "webm"), as MediaRecorder writes for audio and video alike. */
const webm = new Uint8Array([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02]);
/** The first page of an Ogg Opus stream (what Firefox's MediaRecorder writes), which sniffs as `audio/ogg; codecs=opus`. */
const oggOpus = new Uint8Array([
  ...[0x4f, 0x67, 0x67, 0x53, 0, 0x02, ...new Array(8).fill(0), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 19],
  ...new TextEncoder().encode("OpusHead"),
  ...[1, 1, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0],
]);
/** The start of an MP4 of brand `M4A ` (an .m4a file), which sniffs as `audio/x-m4a`. */
const m4a = new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypM4A "), 0, 0, 0, 0, ...new TextEncoder().encode("M4A isom"), ...new Array(16).fill(0)]);
/** The start of an MP4 of brand `isom`, as Chromium's MediaRecorder writes `audio/mp4`, which sniffs as `video/mp4`. */
const isom = new Uint8Array([0, 0, 0, 0x18, ...new TextEncoder().encode("ftypisom"), 0, 0, 2, 0, ...new TextEncoder().encode("isomiso2"), ...new Array(16).fill(0)]);
const text = new TextEncoder().encode("hello, world\n");

describe("inspectContent", () => {
  it("takes an image for what its bytes are, whatever image type it claimed", async () => {
    expect(await inspectContent(await png(), "image/png", allowed)).toEqual({ ok: true, contentType: "image/png", kind: "image" });
    expect(await inspectContent(await png(), "image/jpeg", allowed)).toEqual({ ok: true, contentType: "image/png", kind: "image" });
  });

  it("refuses a file declared as an image, audio or video whose bytes are not one", async () => {
    expect(await inspectContent(text, "image/png", allowed)).toEqual({ ok: false, problem: "its content is not an image" });
    expect(await inspectContent(await png(), "audio/mpeg", allowed)).toEqual({ ok: false, problem: "its content is not an audio file (it is image/png)" });
  });

  it("keeps the declared one of audio and video for a container both use", async () => {
    expect(await inspectContent(webm, "audio/webm", allowed)).toEqual({ ok: true, contentType: "audio/webm", kind: "audio" });
    expect(await inspectContent(webm, "video/webm", allowed)).toEqual({ ok: true, contentType: "video/webm", kind: "video" });
    expect(await inspectContent(isom, "audio/mp4", allowed)).toEqual({ ok: true, contentType: "audio/mp4", kind: "audio" });
    expect(await inspectContent(m4a, "video/mp4", allowed)).toEqual({ ok: true, contentType: "video/mp4", kind: "video" });
  });

  it("names what the bytes are as the allowed list does: without parameters, by the registered name", async () => {
    expect(await inspectContent(oggOpus, "audio/ogg", allowed)).toEqual({ ok: true, contentType: "audio/ogg", kind: "audio" });
    expect(await inspectContent(oggOpus, "video/ogg", new Set(["video/ogg"]))).toEqual({ ok: true, contentType: "video/ogg", kind: "video" });
    expect(await inspectContent(m4a, "audio/mp4", allowed)).toEqual({ ok: true, contentType: "audio/mp4", kind: "audio" });
    expect(await inspectContent(m4a, "audio/x-m4a", allowed)).toEqual({ ok: true, contentType: "audio/mp4", kind: "audio" });
  });

  it("still refuses media declared in another container than its bytes", async () => {
    expect(await inspectContent(webm, "audio/ogg", allowed)).toEqual({ ok: false, problem: "its content is not an audio file (it is video/webm)" });
  });

  it("shows a document that is really an image as the image, and keeps a document's declared type otherwise", async () => {
    expect(await inspectContent(await png(), "application/pdf", allowed)).toEqual({ ok: true, contentType: "image/png", kind: "image" });
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0, ...new Array(40).fill(0)]);
    const docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    expect(await inspectContent(zip, docx, allowed)).toEqual({ ok: true, contentType: docx, kind: "file" });
  });

  it("accepts bytes without a signature as text only, and only without NUL", async () => {
    expect(await inspectContent(text, "text/plain", allowed)).toEqual({ ok: true, contentType: "text/plain", kind: "file" });
    expect(await inspectContent(new Uint8Array([104, 0, 105]), "text/plain", allowed)).toMatchObject({ ok: false });
    expect(await inspectContent(text, "application/pdf", allowed)).toEqual({ ok: false, problem: "its content is not application/pdf" });
  });

  it("refuses what the bytes are when that type is not allowed", async () => {
    expect(await inspectContent(await png(), "image/png", new Set(["image/jpeg"]))).toEqual({ ok: false, problem: "type image/png is not allowed" });
  });
});

describe("ATTACHMENT_TYPES", () => {
  const parse = (value: string) => loadConfig(z.object(attachmentConfigShape), { ATTACHMENT_TYPES: value }).ATTACHMENT_TYPES;

  it("is a comma-separated list of MIME types, the defaults when unset", () => {
    expect(parse(" image/png , text/plain,")).toEqual(new Set(["image/png", "text/plain"]));
    expect(loadConfig(z.object(attachmentConfigShape), {}).ATTACHMENT_TYPES).toEqual(allowed);
  });

  it("refuses types that would let an upload run scripts, and what is not a type", () => {
    expect(() => parse("image/png,text/html")).toThrow(ConfigError);
    expect(() => parse("image/svg+xml")).toThrow(/can run scripts/);
    expect(() => parse("images")).toThrow(/not a MIME type/);
  });
});
