/**
 * A file on its way into a message, as the sender's client knows it: the local preview (name, size,
 * type, kind guessed from the type), the upload's progress, and what each step of sending it answered,
 * so that a retry does not redo what is done.
 */
import type { AttachmentKind, AttachmentUpload, Message } from "@parley/protocol";

/** Longest attachment name the server takes, in UTF-16 code units (`MAX_ATTACHMENT_NAME_LENGTH`). */
const MAX_NAME_LENGTH = 255;

/**
 * A file of a message this client sends. Until the message is acknowledged it sits in the message's
 * `attachments` in the outbox (and in `conversation.messages.get().pending`); the acknowledged message
 * carries the server's `Attachment`s instead.
 */
export interface LocalAttachment {
  /** The server's attachment id, once created (`POST /api/conversations/:id/attachments`). */
  id?: string;
  /** The file name shown (a `File`'s own name, or `SendFileInput.name`). */
  name: string;
  /** Bytes. */
  size: number;
  /** The type the upload is signed for: a bare MIME type, lower case, without parameters. */
  contentType: string;
  /** What the file is shown as, guessed from `contentType`; the server decides from the bytes. */
  kind: AttachmentKind;
  /** The file itself, kept until the message is acknowledged (for a preview: `URL.createObjectURL(file)`). */
  file: Blob;
  /** How much of the file is uploaded, 0 to 1. */
  progress: number;
  /** The bytes are in the object store: a retry only sends the message again. */
  uploaded: boolean;
  /** The presigned upload of `id`, until the bytes are uploaded (a URL close to `expiresAt` is not used). */
  upload?: AttachmentUpload;
}

/** What `Conversation.sendFile` takes besides the file. */
export interface SendFileInput {
  /** Text sent with the file. @default "" */
  caption?: string;
  /** @default "image" for an image, "file" for anything else */
  type?: Message["type"];
  /** The message this one replies to (same conversation). */
  replyToId?: string;
  /** The name shown. @default the `File`'s name, or "file" for a `Blob` */
  name?: string;
  /** The type to upload as. @default the `Blob`'s `type` without parameters (`audio/webm;codecs=opus` → `audio/webm`) */
  contentType?: string;
}

/** The kind of a MIME type, as the server derives it. */
export function kindOf(contentType: string): AttachmentKind {
  if (contentType.startsWith("image/")) return "image";
  if (contentType.startsWith("video/")) return "video";
  if (contentType.startsWith("audio/")) return "audio";
  return "file";
}

/** A MIME type as the server takes it: no parameters, lower case; `application/octet-stream` when unknown. */
export function bareContentType(type: string): string {
  const bare = (type.split(";")[0] ?? "").trim().toLowerCase();
  return bare === "" ? "application/octet-stream" : bare;
}

/**
 * A name the server accepts: control characters, `/` and `\` replaced, trimmed, at most 255 code units
 * (never half a surrogate pair), "file" when nothing is left.
 */
export function displayName(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim();
  let out = "";
  for (const char of clean) {
    if (out.length + char.length > MAX_NAME_LENGTH) break;
    out += char;
  }
  return out.trimEnd() || "file";
}

/** The local attachment of `file`, nothing uploaded yet. */
export function newLocalAttachment(file: Blob, input: Pick<SendFileInput, "name" | "contentType"> = {}): LocalAttachment {
  const contentType = bareContentType(input.contentType ?? file.type);
  const fileName = (file as Partial<File>).name;
  return {
    name: displayName(input.name ?? (typeof fileName === "string" ? fileName : "file")),
    size: file.size,
    contentType,
    kind: kindOf(contentType),
    file,
    progress: 0,
    uploaded: false,
  };
}
