/**
 * Download URLs of attachments (`client.attachments.url`): presigned, short-lived links from
 * `GET /api/attachments/:id?redirect=false`, cached until shortly before they expire and shared by
 * concurrent callers, so that a list of images asks once per image.
 */
import type { AttachmentLink } from "@parley/protocol";

import type { AttachmentsApi, AttachmentVariant } from "./attachments-api.js";

/** How long before its expiry a link is asked for again: at most this, at most half its life. */
export const LINK_REFRESH_MARGIN_MS = 30_000;
/** Most links kept; the oldest go first. */
const MAX_LINKS = 1_000;

/** Options of {@link Attachments.url}. */
export interface AttachmentUrlOptions {
  /** `thumbnail` for an image's thumbnail (once the message has it: `attachment.thumbnail`). @default "original" */
  variant?: AttachmentVariant;
}

/** The attachments of messages, as an app shows them. */
export interface Attachments {
  /**
   * A URL that downloads attachment `id` (or its thumbnail) without a token, for `<img src>`, `<a href>`
   * or `fetch`: valid for minutes (the server's `ATTACHMENT_DOWNLOAD_TTL_SECONDS`). Cached until
   * shortly before it expires; concurrent calls share one request. Call it again when you show the
   * attachment again rather than keeping the URL.
   * @throws {ParleyError} `NOT_FOUND` for an attachment this user may not see (or no thumbnail yet).
   */
  url(id: string, options?: AttachmentUrlOptions): Promise<string>;
}

interface Cached {
  link: Promise<AttachmentLink>;
  /** When the link should be asked for again (ms since the epoch); unknown while it is asked for. */
  staleAt?: number;
}

/** The links of one client. */
export class AttachmentLinks implements Attachments {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly api: Pick<AttachmentsApi, "attachmentLink">,
    private readonly now: () => number = Date.now,
  ) {}

  async url(id: string, { variant = "original" }: AttachmentUrlOptions = {}): Promise<string> {
    const key = `${variant}:${id}`;
    const held = this.cache.get(key);
    if (held && (held.staleAt === undefined || held.staleAt > this.now())) return (await held.link).url;
    const asked = this.now();
    const entry: Cached = { link: this.api.attachmentLink(id, variant) };
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > MAX_LINKS) this.cache.delete(this.cache.keys().next().value as string);
    try {
      const link = await entry.link;
      const expiresAt = Date.parse(link.expiresAt);
      entry.staleAt = expiresAt - Math.min(LINK_REFRESH_MARGIN_MS, Math.max(0, expiresAt - asked) / 2);
      return link.url;
    } catch (err) {
      if (this.cache.get(key) === entry) this.cache.delete(key);
      throw err;
    }
  }

  /** Forgets every link. */
  clear(): void {
    this.cache.clear();
  }
}
