/**
 * The upload of an attachment's bytes with its presigned request, straight to the object store:
 * `XMLHttpRequest` where there is one (browsers, React Native), for its upload progress; `fetch`
 * elsewhere (Node.js), which reports 0, then 1. No `Authorization` header: the URL carries its own.
 */
import type { AttachmentUpload } from "@parley/protocol";

import { parseRetryAfter } from "../lib/http.js";

/** What the store answered: its status, and `Retry-After` when it gave one. */
export interface PutAnswer {
  status: number;
  retryAfterMs?: number;
}

/**
 * Sends `file` with the presigned `upload`; `onProgress` gets the fraction sent, 0 to 1. Resolves with
 * the store's answer, whatever its status; rejects when no answer came (network, abort).
 */
export type PutFile = (upload: AttachmentUpload, file: Blob, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<PutAnswer>;

/**
 * What is used of `XMLHttpRequest`, declared here: the SDK's sources also compile for Node.js tests,
 * without the DOM's types.
 */
interface Xhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getAllResponseHeaders(): string;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  ontimeout: (() => void) | null;
  onabort: (() => void) | null;
}

/** Headers a browser sets itself and refuses from scripts. */
const BROWSER_HEADERS: ReadonlySet<string> = new Set(["content-length", "host", "connection", "expect"]);

/**
 * Header `name` (lower case) of `all` (`getAllResponseHeaders()`), which lists only the headers CORS lets
 * the page read: `getResponseHeader` of any other logs an error in the console ("Refused to get unsafe
 * header"), and a store's answer exposes none by default.
 */
export function exposedHeader(all: string, name: string): string | null {
  for (const line of all.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return null;
}

/** {@link PutFile} with `XMLHttpRequest` when the environment has it, `fetch` otherwise. */
export const putFile: PutFile = (upload, file, onProgress, signal) => {
  const XhrClass = (globalThis as { XMLHttpRequest?: new () => Xhr }).XMLHttpRequest;
  return typeof XhrClass === "function" ? putWithXhr(new XhrClass(), upload, file, onProgress, signal) : putWithFetch(upload, file, onProgress, signal);
};

function putWithXhr(xhr: Xhr, upload: AttachmentUpload, file: Blob, onProgress: (fraction: number) => void, signal: AbortSignal): Promise<PutAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const abort = (): void => xhr.abort();
    const done = (): void => signal.removeEventListener("abort", abort);
    xhr.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers)) if (!BROWSER_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      done();
      const retryAfterMs = parseRetryAfter(exposedHeader(xhr.getAllResponseHeaders(), "retry-after"));
      resolve(retryAfterMs === undefined ? { status: xhr.status } : { status: xhr.status, retryAfterMs });
    };
    xhr.onerror = xhr.ontimeout = () => {
      done();
      reject(new Error("the upload got no answer"));
    };
    xhr.onabort = () => {
      done();
      reject(signal.reason ?? new Error("the upload was aborted"));
    };
    signal.addEventListener("abort", abort);
    onProgress(0);
    xhr.send(file);
  });
}

async function putWithFetch(upload: AttachmentUpload, file: Blob, onProgress: (fraction: number) => void, signal: AbortSignal): Promise<PutAnswer> {
  onProgress(0);
  const res = await globalThis.fetch(upload.url, { method: upload.method, headers: upload.headers, body: file, signal });
  // The store's body (an S3 XML error, or nothing) says nothing the status does not: read it to free the connection.
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) onProgress(1);
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
  return retryAfterMs === undefined ? { status: res.status } : { status: res.status, retryAfterMs };
}
