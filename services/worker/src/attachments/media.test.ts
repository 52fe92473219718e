/** What the worker reads from files: real images made with sharp, a real WAV file, and broken bytes. */
import sharp from "sharp";
import { describe, expect, it } from "vitest";

import { THUMBNAIL_MAX_SIDE, UnreadableMediaError, describeImage, mediaDurationMs } from "./media.js";

/** A PCM WAV of `ms` milliseconds of silence. */
function wav(ms: number, sampleRate = 8000): Uint8Array {
  const samples = Math.round((sampleRate * ms) / 1000);
  const data = samples * 2;
  const buffer = Buffer.alloc(44 + data);
  buffer.write("RIFF", 0);
  buffer.writeUInt32LE(36 + data, 4);
  buffer.write("WAVEfmt ", 8);
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20); // PCM
  buffer.writeUInt16LE(1, 22); // mono
  buffer.writeUInt32LE(sampleRate, 24);
  buffer.writeUInt32LE(sampleRate * 2, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write("data", 36);
  buffer.writeUInt32LE(data, 40);
  return new Uint8Array(buffer);
}

describe("describeImage", () => {
  it("gives the displayed size (EXIF orientation applied) and a WebP thumbnail within the limit, without metadata", async () => {
    // Stored 1200 × 300, shown rotated a quarter turn (orientation 6): 300 × 1200.
    const jpeg = await sharp({ create: { width: 1200, height: 300, channels: 3, background: "#3366cc" } })
      .withMetadata({ orientation: 6 })
      .withExif({ IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 0/1" } })
      .jpeg()
      .toBuffer();
    const image = await describeImage(new Uint8Array(jpeg));
    expect(image).toMatchObject({ width: 300, height: 1200, thumbnail: { width: 80, height: THUMBNAIL_MAX_SIDE } });
    const thumbnail = await sharp(image.thumbnail.bytes).metadata();
    expect(thumbnail).toMatchObject({ format: "webp", width: 80, height: THUMBNAIL_MAX_SIDE });
    expect(thumbnail.exif).toBeUndefined();
    expect(thumbnail.orientation).toBeUndefined();
  });

  it("does not enlarge a small image", async () => {
    const png = await sharp({ create: { width: 40, height: 20, channels: 4, background: "#00000000" } }).png().toBuffer();
    expect(await describeImage(new Uint8Array(png))).toMatchObject({ width: 40, height: 20, thumbnail: { width: 40, height: 20 } });
  });

  it("says a file that is not a readable image is unreadable, which no retry can change", async () => {
    const png = await sharp({ create: { width: 40, height: 20, channels: 3, background: "#ff0000" } }).png().toBuffer();
    await expect(describeImage(new Uint8Array(png.subarray(0, 60)))).rejects.toBeInstanceOf(UnreadableMediaError);
    await expect(describeImage(new TextEncoder().encode("not an image"))).rejects.toBeInstanceOf(UnreadableMediaError);
  });
});

describe("mediaDurationMs", () => {
  it("reads the duration of audio", async () => {
    expect(await mediaDurationMs(wav(1500), "audio/wav")).toBe(1500);
  });
});
