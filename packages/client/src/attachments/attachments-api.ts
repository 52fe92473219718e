/**
 * What the attachments need from the REST API: starting an attachment, and its download links.
 */
import type { AttachmentCreated, AttachmentLink, CreateAttachmentBody } from "@parley/protocol";

import { ParleyError } from "../errors.js";
import type { RestClient } from "../rest.js";

/** Which file of an attachment: the original, or the thumbnail of an image. */
export type AttachmentVariant = "original" | "thumbnail";

/** The REST calls of attachments. */
export interface AttachmentsApi {
  /** `POST /api/conversations/:id/attachments`: a new attachment and its presigned upload. */
  createAttachment(conversationId: string, file: CreateAttachmentBody): Promise<AttachmentCreated>;
  /** `GET /api/attachments/:id?variant=&redirect=false`: a presigned download URL and its expiry. */
  attachmentLink(id: string, variant: AttachmentVariant): Promise<AttachmentLink>;
}

/** {@link AttachmentsApi} on the typed REST client. */
export function restAttachmentsApi(rest: RestClient): AttachmentsApi {
  return {
    createAttachment: (conversationId, body) => rest.call("attachments.create", { params: { id: conversationId }, body }),
    attachmentLink: async (id, variant) => {
      const link = await rest.call("attachments.get", { params: { id }, query: { variant, redirect: "false" } });
      // With redirect=false the route answers 200 and a body; nothing else is the API's.
      if (!link) throw new ParleyError({ code: "INTERNAL", message: "The server answered no download link" });
      return link;
    },
  };
}
