/**
 * A message's files. Pending: name, size and the upload's progress (an image previewed from the file
 * itself). Confirmed: images inline as their thumbnail (the original until the worker made one), full
 * size in a dialog on click; audio and video in the browser's own players, with the duration the worker
 * found and a download link (a voice note labelled as one); other files as download links with name
 * and size.
 */
import { useEffect, useId, useState } from "react";

import type { Attachments, LocalAttachment } from "@parley/client";
import type { Attachment } from "@parley/protocol";

import { useModal } from "../hooks.js";
import { clockDuration, isVoiceNote } from "../voice-note.js";
import "./media-attachments.css";

/** "512 B", "42 KB", "3.4 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A download URL of `id`, asked again when what it names changes; undefined until it came (or without a variant). */
function useAttachmentUrl(attachments: Attachments, id: string, variant: "original" | "thumbnail" | undefined): string | undefined {
  const [url, setUrl] = useState<{ key: string; url: string }>();
  const key = `${id}:${variant}`;
  useEffect(() => {
    if (!variant) return;
    let current = true;
    attachments.url(id, { variant }).then(
      (u) => current && setUrl({ key, url: u }),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [attachments, id, variant, key]);
  return url?.key === key ? url.url : undefined;
}

export function SentAttachments({ attachments, items }: { attachments: Attachments; items: readonly Attachment[] }) {
  return (
    <ul className="attachments" aria-label="Attachments">
      {items.map((a) => (
        <li key={a.id}>
          {a.kind === "image" ? (
            <ImageAttachment attachments={attachments} a={a} />
          ) : a.kind === "audio" || a.kind === "video" ? (
            <MediaAttachment attachments={attachments} a={a} />
          ) : (
            <FileLink attachments={attachments} a={a} />
          )}
        </li>
      ))}
    </ul>
  );
}

function ImageAttachment({ attachments, a }: { attachments: Attachments; a: Attachment }) {
  const [open, setOpen] = useState(false);
  const src = useAttachmentUrl(attachments, a.id, a.thumbnail ? "thumbnail" : "original");
  return (
    <>
      <button type="button" className="image-attachment" aria-label={`Open ${a.name} (${fileSize(a.size)})`} aria-haspopup="dialog" onClick={() => setOpen(true)}>
        {src ? (
          <img
            src={src}
            alt={a.name}
            width={a.thumbnail?.width}
            height={a.thumbnail?.height}
            data-variant={a.thumbnail ? "thumbnail" : "original"}
          />
        ) : (
          <span className="image-placeholder">{a.name}</span>
        )}
      </button>
      {open && <ImageDialog attachments={attachments} a={a} onClose={() => setOpen(false)} />}
    </>
  );
}

function ImageDialog({ attachments, a, onClose }: { attachments: Attachments; a: Attachment; onClose: () => void }) {
  const dialog = useModal(true);
  const titleId = useId();
  const src = useAttachmentUrl(attachments, a.id, "original");
  return (
    <dialog ref={dialog} className="card modal image-dialog" aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>{a.name}</h2>
      {src ? <img src={src} alt={a.name} width={a.width} height={a.height} /> : <p className="placeholder">Loading…</p>}
      <div className="dialog-buttons">
        {src && (
          <a href={src} download={a.name}>
            Download ({fileSize(a.size)})
          </a>
        )}
        <button type="button" className="primary" autoFocus onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}

function FileLink({ attachments, a }: { attachments: Attachments; a: Attachment }) {
  const href = useAttachmentUrl(attachments, a.id, "original");
  const label = (
    <>
      <span className="file-name">{a.name}</span> <span className="file-size">{fileSize(a.size)}</span>
    </>
  );
  return href ? (
    <a className="file-attachment" href={href} download={a.name}>
      {label}
    </a>
  ) : (
    <span className="file-attachment">{label}</span>
  );
}

/**
 * Audio or video in the browser's player: only its metadata loaded until played, a video's poster from
 * its thumbnail when it has one. Named by what it is (a voice note, or the file's name) and how long it
 * lasts when the worker found out.
 */
function MediaAttachment({ attachments, a }: { attachments: Attachments; a: Attachment }) {
  const src = useAttachmentUrl(attachments, a.id, "original");
  const poster = useAttachmentUrl(attachments, a.id, a.kind === "video" && a.thumbnail ? "thumbnail" : undefined);
  const voiceNote = isVoiceNote(a);
  const title = voiceNote ? "Voice note" : a.name;
  const duration = a.durationMs !== undefined ? clockDuration(a.durationMs) : undefined;
  const label = duration ? `${title}, ${duration}` : title;
  return (
    <figure className={`media-attachment ${a.kind}${voiceNote ? " voice-note" : ""}`} aria-label={label}>
      {!src ? (
        <span className="media-placeholder">{title}</span>
      ) : a.kind === "audio" ? (
        <audio controls preload="metadata" src={src} aria-label={label} />
      ) : (
        <video controls playsInline preload="metadata" src={src} poster={poster} width={a.width} height={a.height} aria-label={label} />
      )}
      <figcaption>
        <span className="media-title">{title}</span>
        {duration && <span className="media-duration"> {duration}</span>}
        {src && (
          <>
            {" "}
            <a href={src} download={a.name} aria-label={`Download ${a.name} (${fileSize(a.size)})`}>
              Download
            </a>
          </>
        )}
      </figcaption>
    </figure>
  );
}

/** The files of a message on its way: a preview of images, and how much is uploaded. */
export function PendingAttachments({ items }: { items: readonly LocalAttachment[] }) {
  return (
    <ul className="attachments" aria-label="Attachments">
      {items.map((a, i) => (
        <li key={i} className="pending-attachment">
          {a.kind === "image" && <LocalPreview file={a.file} name={a.name} />}
          <span className="file-name">{a.name}</span> <span className="file-size">{fileSize(a.size)}</span>
          {!a.uploaded && <progress aria-label={`Uploading ${a.name}`} max={1} value={a.progress} />}
        </li>
      ))}
    </ul>
  );
}

function LocalPreview({ file, name }: { file: Blob; name: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    const url = URL.createObjectURL(file);
    setSrc(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  return src ? <img className="local-preview" src={src} alt={name} /> : null;
}
