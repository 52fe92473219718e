/**
 * What an attachment may be: the limits (size, types, uploads per minute, bytes per user, how long an
 * upload may wait for its message) and the check of a file's first bytes against the type it claims.
 * A file is shown as an image, a video or audio only when its bytes are one; a label alone never
 * makes it one.
 */
import { fileTypeFromBuffer } from "file-type";
import { z } from "zod";

import { ContentType, type AttachmentKind } from "@parley/protocol";

import { intVar } from "../config.js";

/** The types allowed by default: common images, video, audio (voice notes included) and documents. */
export const DEFAULT_ATTACHMENT_TYPES = [
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/quicktime",
  "audio/mpeg",
  "audio/ogg",
  "audio/webm",
  "audio/mp4",
  "audio/aac",
  "audio/wav",
  "audio/flac",
  "application/pdf",
  "application/zip",
  "application/gzip",
  "text/plain",
  "text/csv",
  "text/markdown",
  "application/json",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.ms-excel",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.ms-powerpoint",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/vnd.oasis.opendocument.text",
  "application/vnd.oasis.opendocument.spreadsheet",
] as const;

/**
 * Types without a signature in their first bytes: accepted when the bytes hold none and look like
 * text (no NUL), and always served as downloads.
 */
const TEXT_TYPES: ReadonlySet<string> = new Set(["text/plain", "text/csv", "text/markdown", "application/json"]);

/** A comma-separated list of MIME types. */
const typeListVar = z
  .string()
  .transform((value, ctx) => {
    const types = value.split(",").map((t) => t.trim()).filter((t) => t !== "");
    for (const type of types) {
      const parsed = ContentType.safeParse(type);
      if (!parsed.success) ctx.addIssue({ code: "custom", message: `"${type}" is not a MIME type such as image/png` });
      else if (parsed.data === "text/html" || parsed.data === "image/svg+xml") {
        ctx.addIssue({ code: "custom", message: `"${type}" is refused: it can run scripts in a browser` });
      }
    }
    return new Set(types.map((t) => t.toLowerCase()));
  })
  .refine((types) => types.size > 0, "must name at least one type");

/** Settings of attachments, read by every service that touches them (gateway, API, worker). */
export const attachmentConfigShape = {
  /**
   * Largest attachment, in bytes.
   * @default 26214400 (25 MiB)
   */
  ATTACHMENT_MAX_BYTES: intVar(1).default(25 * 1024 * 1024),
  /**
   * Types that may be attached, comma-separated. `text/html` and `image/svg+xml` are refused.
   * @default common images, video, audio, PDF, archives, text and office documents
   */
  ATTACHMENT_TYPES: typeListVar.prefault(DEFAULT_ATTACHMENT_TYPES.join(",")),
  /**
   * Attachments a user may start per minute, across the cluster.
   * @default 30
   */
  ATTACHMENT_UPLOADS_PER_MINUTE: intVar(1).default(30),
  /**
   * Bytes a user's attachments may take in all (deleting messages frees them).
   * @default 1073741824 (1 GiB)
   */
  ATTACHMENT_QUOTA_BYTES: intVar(1).default(1024 * 1024 * 1024),
  /**
   * How long a presigned upload stays valid, in seconds.
   * @default 600
   */
  ATTACHMENT_UPLOAD_TTL_SECONDS: intVar(30).max(7 * 86_400).default(600),
  /**
   * How long a presigned download (`GET /api/attachments/:id`) stays valid, in seconds.
   * @default 300
   */
  ATTACHMENT_DOWNLOAD_TTL_SECONDS: intVar(10).max(7 * 86_400).default(300),
  /**
   * Age after which an attachment that no message names is deleted, in seconds.
   * @default 86400
   */
  ATTACHMENT_ORPHAN_TTL_SECONDS: intVar(1).default(86_400),
} as const;

/** The validated settings of {@link attachmentConfigShape}. */
export type AttachmentConfig = z.output<z.ZodObject<typeof attachmentConfigShape>>;

/** How many first bytes of a file are read to tell its type. */
export const SNIFF_BYTES = 8192;

/** The kind of a MIME type. */
export function kindOf(contentType: string): AttachmentKind {
  if (contentType.startsWith("image/")) return "image";
  if (contentType.startsWith("video/")) return "video";
  if (contentType.startsWith("audio/")) return "audio";
  return "file";
}

/** What {@link inspectContent} decided: the type to store and show, or why the file is refused. */
export type Inspection = { ok: true; contentType: string; kind: AttachmentKind } | { ok: false; problem: string };

/**
 * Decides a file's type from its first bytes (`sample`) and the type it was uploaded as (`declared`):
 *
 * - bytes with a signature are that type (without parameters, under its registered name: `audio/x-m4a`
 *   is `audio/mp4`), except that a container shared by audio and video (WebM, Ogg, MP4) keeps the
 *   declared one of the two: what MediaRecorder writes as `audio/webm` is a WebM, which the bytes alone
 *   call `video/webm`; a file declared as an image, a video or audio whose bytes are something else is
 *   refused;
 * - a file declared as a document keeps its declared type (documents are only ever downloaded), unless
 *   its bytes are an image, a video or audio, which it is then shown as;
 * - bytes without a signature are accepted only as a text type, and only without NUL bytes;
 * - the type decided must be one of `allowed`.
 */
export async function inspectContent(sample: Uint8Array, declared: string, allowed: ReadonlySet<string>): Promise<Inspection> {
  const detected = (await fileTypeFromBuffer(sample))?.mime;
  const sniffed = detected === undefined ? undefined : registeredType(detected);
  const declaredKind = kindOf(declared);
  let contentType: string;
  if (sniffed === undefined) {
    if (!TEXT_TYPES.has(declared) || sample.includes(0)) return { ok: false, problem: `its content is not ${describe(declared)}` };
    contentType = declared;
  } else {
    const sniffedKind = kindOf(sniffed);
    if (declaredKind !== "file" && sniffedKind !== declaredKind && !sameContainer(sniffed, declared)) {
      return { ok: false, problem: `its content is not ${describe(declared)} (it is ${sniffed})` };
    }
    if (sameContainer(sniffed, declared)) contentType = declared;
    else if (declaredKind === "file" && sniffedKind === "file") contentType = declared;
    else contentType = sniffed;
  }
  if (!allowed.has(contentType)) return { ok: false, problem: `type ${contentType} is not allowed` };
  return { ok: true, contentType, kind: kindOf(contentType) };
}

/**
 * The type sniffing names, as the allowed list names it: no parameters (Ogg Opus sniffs as
 * `audio/ogg; codecs=opus`), and the registered name of a type also known by an unregistered one.
 */
function registeredType(sniffed: string): string {
  const bare = (sniffed.split(";")[0] ?? "").trim().toLowerCase();
  return REGISTERED_NAMES[bare] ?? bare;
}

const REGISTERED_NAMES: Readonly<Record<string, string>> = {
  "audio/x-m4a": "audio/mp4",
  "video/x-m4v": "video/mp4",
};

/** The containers that hold audio or video alike: the same bytes whichever the label says. */
const MEDIA_CONTAINERS: ReadonlyMap<string, string> = new Map([
  ["audio/webm", "webm"],
  ["video/webm", "webm"],
  ["audio/ogg", "ogg"],
  ["video/ogg", "ogg"],
  ["audio/mp4", "mp4"],
  ["video/mp4", "mp4"],
]);

/** `video/webm` and `audio/webm`: one container, told apart only by the label. */
function sameContainer(a: string, b: string): boolean {
  const container = MEDIA_CONTAINERS.get(a);
  return container !== undefined && container === MEDIA_CONTAINERS.get(b);
}

function describe(contentType: string): string {
  const kind = kindOf(contentType);
  return { image: "an image", video: "a video", audio: "an audio file", file: contentType }[kind];
}
