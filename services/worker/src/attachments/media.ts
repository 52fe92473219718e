/**
 * What the worker finds out about a file: an image's dimensions and its thumbnail (with sharp), the
 * duration of audio and video (with music-metadata, or from a WebM's frames). Thumbnails are made from
 * the decoded pixels, so they carry none of the original's metadata (EXIF, GPS position, camera, ICC
 * comments).
 */
import { parseBuffer } from "music-metadata";
import sharp from "sharp";

import { webmDurationMs } from "./webm-duration.js";

/** The longest side of a thumbnail, in pixels. */
export const THUMBNAIL_MAX_SIDE = 320;

/** Most pixels of an image the worker decodes (about a 100-megapixel photo); larger ones get no thumbnail. */
const MAX_INPUT_PIXELS = 100_000_000;

export interface ImageDescription {
  /** As displayed: after the EXIF orientation is applied. */
  width: number;
  height: number;
  thumbnail: { bytes: Uint8Array; width: number; height: number };
}

/** Thrown when the bytes cannot be read as the type they were taken for; retrying cannot help. */
export class UnreadableMediaError extends Error {
  override name = "UnreadableMediaError";
}

/** The dimensions and a WebP thumbnail of an image (its first frame, when animated). */
export async function describeImage(bytes: Uint8Array): Promise<ImageDescription> {
  try {
    const options = { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error" } as const;
    const metadata = await sharp(bytes, options).metadata();
    const { width, height } = metadata.autoOrient;
    if (!width || !height) throw new UnreadableMediaError("the image has no dimensions");
    const { data, info } = await sharp(bytes, options)
      .rotate()
      .resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, { fit: "inside", withoutEnlargement: true })
      .webp({ quality: 75 })
      .toBuffer({ resolveWithObject: true });
    return { width, height, thumbnail: { bytes: new Uint8Array(data), width: info.width, height: info.height } };
  } catch (err) {
    if (err instanceof UnreadableMediaError) throw err;
    throw new UnreadableMediaError(`the image cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The duration of audio or video in milliseconds, or undefined when the file does not say. A WebM is
 * timed by {@link webmDurationMs}: music-metadata reads only the header's Duration, which a recording
 * made in a browser lacks, and cannot walk its clusters of unknown size.
 */
export async function mediaDurationMs(bytes: Uint8Array, contentType: string): Promise<number | undefined> {
  if (contentType.endsWith("/webm")) return webmDurationMs(bytes);
  try {
    const metadata = await parseBuffer(bytes, { mimeType: contentType, size: bytes.byteLength }, { duration: true, skipCovers: true });
    const seconds = metadata.format.duration;
    return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : undefined;
  } catch (err) {
    throw new UnreadableMediaError(`the file cannot be read as ${contentType}: ${(err as Error).message}`, { cause: err });
  }
}
