/** What the worker reads from files: real images made with sharp, a real WAV file, WebM recordings, and broken bytes. */
import sharp from "sharp";
import { describe, expect, it } from "vitest";

import { recordedWebm, wav } from "../../../../test/helpers/media.js";
import { THUMBNAIL_MAX_SIDE, UnreadableMediaError, describeImage, mediaDurationMs } from "./media.js";

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

  it("times a WebM recorded in a browser, which has no duration in its header, by its frames", async () => {
    expect(await mediaDurationMs(recordedWebm(3000), "audio/webm")).toBe(3000);
    expect(await mediaDurationMs(recordedWebm(2520, { frameMs: 60, framesPerCluster: 7 }), "video/webm")).toBe(2520);
  });

  it("takes a WebM's header duration when it has one", async () => {
    expect(await mediaDurationMs(recordedWebm(1234, { duration: true, frameMs: 1234 }), "audio/webm")).toBe(1234);
  });

  it("gives no duration, rather than a wrong one, for a WebM without frames or cut before its first", async () => {
    expect(await mediaDurationMs(recordedWebm(0), "audio/webm")).toBeUndefined();
    expect(await mediaDurationMs(recordedWebm(1000).subarray(0, 40), "audio/webm")).toBeUndefined();
  });

  it("times a WebM cut short by the frames it holds", async () => {
    const whole = recordedWebm(2000);
    // The last dozen frames (9 bytes each) and part of one more cut off.
    const cut = await mediaDurationMs(whole.subarray(0, whole.length - 112), "audio/webm");
    expect(cut).toBeGreaterThan(1000);
    expect(cut).toBeLessThan(2000);
  });
});
