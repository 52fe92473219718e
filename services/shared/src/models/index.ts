/** The MongoDB models, bound to one mongoose connection so that tests can use a database of their own. */
import type { Connection, Model } from "mongoose";

import { attachmentModel, type AttachmentDoc } from "./attachment.model.js";
import { conversationModel, type ConversationDoc } from "./conversation.model.js";
import { messageModel, type MessageDoc } from "./message.model.js";
import { receiptModel, type ReceiptDoc } from "./receipt.model.js";
import { sessionModel, type SessionDoc } from "./session.model.js";
import { userModel, type UserDoc } from "./user.model.js";

export * from "./attachment.model.js";
export * from "./conversation.model.js";
export * from "./message.model.js";
export * from "./mongo-errors.js";
export * from "./receipt.model.js";
export * from "./session.model.js";
export * from "./user.model.js";

export interface Models {
  User: Model<UserDoc>;
  Conversation: Model<ConversationDoc>;
  Message: Model<MessageDoc>;
  Receipt: Model<ReceiptDoc>;
  Session: Model<SessionDoc>;
  Attachment: Model<AttachmentDoc>;
}

export function createModels(connection: Connection): Models {
  return {
    User: userModel(connection),
    Conversation: conversationModel(connection),
    Message: messageModel(connection),
    Receipt: receiptModel(connection),
    Session: sessionModel(connection),
    Attachment: attachmentModel(connection),
  };
}
