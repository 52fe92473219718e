/**
 * A message with attachments, sent step by step: each attachment is created (REST: a presigned
 * upload), its bytes uploaded straight to the object store, then the message goes out with
 * `attachmentIds`. Every step's answer is written into the message's outbox entry, so that a retry
 * (after an ack timeout, a reconnect, a reload, a retryable refusal) does only what is left: an
 * uploaded file is not uploaded again. A presigned URL close to its expiry is not used, and what the
 * server or the store no longer takes from an earlier attempt starts over, once.
 */
import type { Message } from "@parley/protocol";

import { ParleyError } from "../errors.js";
import { codeOfStatus } from "../lib/http.js";
import type { LocalMessage } from "../outbox/local-message.js";
import type { SendContext } from "../outbox/outbox.js";
import type { AttachmentsApi } from "./attachments-api.js";
import type { LocalAttachment } from "./local-attachment.js";
import type { PutAnswer, PutFile } from "./put-file.js";

/** A presigned upload is not started when it expires within this (the server's clock may differ). */
export const UPLOAD_EXPIRY_MARGIN_MS = 60_000;

/** What the attachment steps need. */
export interface AttachmentSenderDeps {
  api: Pick<AttachmentsApi, "createAttachment">;
  put: PutFile;
  /** @default Date.now */
  now?: () => number;
}

/** Sends the message (`message:send` with these attachment ids); resolves with the acknowledged message. */
export type SendWithIds = (message: LocalMessage, attachmentIds: string[]) => Promise<Message>;

/**
 * Uploads what `message`'s attachments still need, then sends it with `send`. A send refused for
 * attachments that an earlier attempt uploaded (`VALIDATION` on `attachmentIds.<i>`: the server may
 * have swept them while the client was away) uploads those again, once; a refusal of attachments
 * uploaded by this attempt is final.
 */
export async function sendWithAttachments(message: LocalMessage, context: SendContext, deps: AttachmentSenderDeps, send: SendWithIds): Promise<Message> {
  const steps = new AttachmentSteps(message, context, deps);
  for (;;) {
    const ids = await steps.uploadAll();
    try {
      return await send(steps.message, ids);
    } catch (err) {
      const refused = refusedAttachments(err, ids.length);
      if (refused.length === 0 || refused.some((i) => steps.fresh.has(i))) throw err;
      steps.restart(refused);
    }
  }
}

/** The steps of one attempt at sending a message with attachments. */
class AttachmentSteps {
  /** Indexes of the attachments created by this attempt: a refusal of those is final. */
  readonly fresh = new Set<number>();
  private readonly now: () => number;

  constructor(
    public message: LocalMessage,
    private readonly context: SendContext,
    private readonly deps: AttachmentSenderDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Creates and uploads, one after the other, what is not uploaded yet; the attachment ids, in order. */
  async uploadAll(): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < (this.message.attachments?.length ?? 0); i++) ids.push(await this.uploadOne(i));
    return ids;
  }

  /** Forgets what the attachments at `indexes` had done: the next {@link uploadAll} starts them over. */
  restart(indexes: readonly number[]): void {
    for (const i of indexes) this.set(i, { id: undefined, upload: undefined, uploaded: false, progress: 0 }, true);
  }

  private async uploadOne(i: number): Promise<string> {
    let a = this.attachment(i);
    if (a.uploaded && a.id !== undefined) return a.id;
    checkFile(a);
    for (;;) {
      const remembered = a.id !== undefined && a.upload !== undefined && Date.parse(a.upload.expiresAt) - this.now() > UPLOAD_EXPIRY_MARGIN_MS;
      if (!remembered) a = await this.create(i);
      const { id, upload } = a;
      if (id === undefined || upload === undefined) throw new Error("unreachable: an attachment just created has an upload");
      let answer: PutAnswer;
      try {
        answer = await this.deps.put(upload, a.file, (fraction) => this.progress(i, fraction), this.context.signal);
      } catch (err) {
        this.set(i, { progress: 0 }, false);
        throw err;
      }
      if (answer.status >= 200 && answer.status < 300) {
        this.set(i, { uploaded: true, progress: 1, upload: undefined }, true);
        return id;
      }
      const error = storeRefusal(answer);
      if (error.retryable) {
        this.set(i, { progress: 0 }, false);
        throw error;
      }
      // Refused for good: the next try starts over with a new attachment. A URL remembered from an
      // earlier attempt may have expired by the store's clock, so that one is tried anew at once.
      a = this.set(i, { id: undefined, upload: undefined, progress: 0 }, true);
      if (!remembered) throw error;
    }
  }

  private async create(i: number): Promise<LocalAttachment> {
    const { name, size, contentType } = this.attachment(i);
    const { attachment, upload } = await this.deps.api.createAttachment(this.message.conversationId, { name, size, contentType });
    this.fresh.add(i);
    return this.set(i, { id: attachment.id, upload, uploaded: false, progress: 0 }, true);
  }

  /** Upload progress, in whole percents: the stores change at most a hundred times per file. */
  private progress(i: number, fraction: number): void {
    const progress = Math.floor(Math.min(1, Math.max(0, fraction)) * 100) / 100;
    if (progress !== this.attachment(i).progress) this.set(i, { progress }, false);
  }

  private attachment(i: number): LocalAttachment {
    const a = this.message.attachments?.[i];
    if (!a) throw new Error(`unreachable: message ${this.message.clientMsgId} has no attachment ${i}`);
    return a;
  }

  /** Changes attachment `i` in the outbox; throws when the message left it (discarded, disposed). */
  private set(i: number, patch: Partial<LocalAttachment>, persist: boolean): LocalAttachment {
    const next = this.context.update((m) => withAttachment(m, i, patch), persist);
    if (!next) throw new Error(`parley: message ${this.message.clientMsgId} left the outbox`);
    this.message = next;
    return this.attachment(i);
  }
}

/** `m` with `patch` applied to attachment `i`; a key patched to undefined is removed. */
function withAttachment(m: LocalMessage, i: number, patch: Partial<LocalAttachment>): LocalMessage {
  const attachments = (m.attachments ?? []).map((a, j) => {
    if (j !== i) return a;
    const next: Record<string, unknown> = { ...a, ...patch };
    for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
    return next as unknown as LocalAttachment;
  });
  return { ...m, attachments };
}

/** The file must still be what was queued: a storage may not have kept it, or a file may have changed. */
function checkFile(a: LocalAttachment): void {
  if (typeof Blob === "undefined" || !(a.file instanceof Blob)) {
    throw new ParleyError({ code: "VALIDATION", message: `The outbox storage did not keep the file of attachment "${a.name}"` });
  }
  if (a.file.size !== a.size) {
    throw new ParleyError({ code: "VALIDATION", message: `The file "${a.name}" is ${a.file.size} bytes now, not the ${a.size} it was queued with` });
  }
}

/** The store's answer that is not 2xx as an error: retryable for 408, 429 and 5xx. */
function storeRefusal({ status, retryAfterMs }: PutAnswer): ParleyError {
  const code = status === 408 ? "UNAVAILABLE" : codeOfStatus(status);
  const message = `The object store refused the upload (${status})`;
  return new ParleyError(retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs }, { status });
}

/** The indexes named by a `VALIDATION` refusal's `attachmentIds.<i>` issues. */
function refusedAttachments(err: unknown, count: number): number[] {
  if (!(err instanceof ParleyError) || err.code !== "VALIDATION") return [];
  const indexes = new Set<number>();
  for (const issue of err.issues ?? []) {
    const i = Number(/^attachmentIds\.(\d+)$/.exec(issue.path)?.[1] ?? Number.NaN);
    if (Number.isInteger(i) && i < count) indexes.add(i);
  }
  return [...indexes];
}
