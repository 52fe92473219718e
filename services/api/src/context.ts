/** What the routes and services of one API instance share, built once by `createApi`. */
import type { Attachments } from "@parley/shared/attachments/attachments";
import type { BlockCache } from "@parley/shared/blocks/block-cache";
import type { Logger } from "@parley/shared/logger";
import type { ConversationCache } from "@parley/shared/messages/conversation-cache";
import type { MessagePipeline } from "@parley/shared/messages/message-pipeline";
import type { Models } from "@parley/shared/models";
import type { RateLimiter } from "@parley/shared/rate-limit";
import type { AccountQueue, AttachmentQueue } from "@parley/shared/queues";
import type { SessionRevocations } from "@parley/shared/sessions/revocations";

import type { AccountLimits } from "./auth/account-limits.js";
import type { PasswordHasher } from "./auth/password-hasher.js";
import type { Sessions } from "./auth/sessions.js";
import type { ApiConfig } from "./config.js";
import type { ConversationEvents } from "./conversations/conversation-events.js";
import type { ConversationViews } from "./conversations/conversation-views.js";

/** The API's shared services; route factories and service functions take the parts they need. */
export interface ApiContext {
  config: ApiConfig;
  log: Logger;
  models: Models;
  /** The Redis member cache that gateways check sends against; replaced on every membership change. */
  cache: ConversationCache;
  /** The Redis cache of each user's block peers; refreshed on every block and unblock. */
  blocks: BlockCache;
  /** The shared send path (seq, dedupe, fan-out, persistence queue). */
  pipeline: MessagePipeline;
  events: ConversationEvents;
  /** Conversations with the caller's unread count and the members' pointers, read from Redis. */
  views: ConversationViews;
  /** Logged-in devices: tokens, refresh, revocation. */
  sessions: Sessions;
  /** Which sessions are revoked, for every request's token check. */
  revocations: SessionRevocations;
  /** The cluster-wide rate limits (`conversation`, `search`, the login buckets). */
  limiter: RateLimiter;
  /** Every password hash of this process (register, login, password checks), under its concurrency bound. */
  hasher: PasswordHasher;
  /** The abuse controls of logins, registrations and password checks. */
  limits: AccountLimits;
  /** Where work on a whole account goes for the worker (the erasure of a deleted account's messages). */
  accounts: AccountQueue;
  /** Uploads, downloads and the checks of attachments. */
  attachments: Attachments;
  /** Where the attachments of deleted accounts go to be deleted by the worker. */
  attachmentQueue: AttachmentQueue;
}
