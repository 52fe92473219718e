/**
 * A message's files. Pending: name, size and the upload's progress (an image previewed from the file
 * itself). Confirmed: images inline as their thumbnail (the original until the worker made one), full
 * size in a dialog on click; other files as download links with name and size.
 */
import { useEffect, useId, useState } from "react";

import type { Attachments, LocalAttachment } from "@parley/client";
import type { Attachment } from "@parley/protocol";

import { useModal } from "../hooks.js";

/** "512 B", "42 KB", "3.4 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A download URL of `id`, asked again when what it names changes; undefined until it came. */
function useAttachmentUrl(attachments: Attachments, id: string, variant: "original" | "thumbnail"): string | undefined {
  const [url, setUrl] = useState<{ key: string; url: string }>();
  const key = `${id}:${variant}`;
  useEffect(() => {
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
        <li key={a.id}>{a.kind === "image" ? <ImageAttachment attachments={attachments} a={a} /> : <FileLink attachments={attachments} a={a} />}</li>
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
