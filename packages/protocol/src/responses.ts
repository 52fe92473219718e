/**
 * zod schemas of the REST answers that are not one of the shared shapes of `schemas.ts`: the envelopes
 * (`{ user }`, `{ conversations }`, …), the account export document and the error body. The route
 * table (`routes.ts`) names one of these for every success status of every route.
 */
import { z } from "zod";

import { ERROR_CODES } from "./errors.js";
import { Attachment, Block, Conversation, ConversationView, IsoDate, Message, ObjectIdString, PublicUser, SessionView } from "./schemas.js";

/** One validation problem, as in `FieldIssue`. */
export const FieldIssueSchema = z.object({
  /** Dotted path of the field, empty for the input itself. */
  path: z.string(),
  message: z.string(),
});

/** The error shape on the wire, as in `WireError`: a code from the fixed list and a message. */
export const WireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  /** Present on `VALIDATION`: one entry per invalid field. */
  issues: z.array(FieldIssueSchema).optional(),
  /** Present on `RATE_LIMITED`, and on `UNAVAILABLE` at capacity: milliseconds until a retry. */
  retryAfterMs: z.number().int().nonnegative().optional(),
});

/** The body of every REST error answer (4xx and 5xx). */
export const ErrorBody = z.object({ error: WireErrorSchema });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `{ user }`: one user (`GET /api/users/me`, `GET /api/users/:id`, `PATCH /api/users/me`). */
export const UserAnswer = z.object({ user: PublicUser });
export type UserAnswer = z.infer<typeof UserAnswer>;

/** `{ users }`: the answer of the username search, sorted by username. */
export const UserList = z.object({ users: z.array(PublicUser) });
export type UserList = z.infer<typeof UserList>;

/** `{ sessions }`: the caller's active sessions, most recently used first. */
export const SessionList = z.object({ sessions: z.array(SessionView) });
export type SessionList = z.infer<typeof SessionList>;

/** `{ blocks }`: whom the caller blocks, oldest block first. */
export const BlockList = z.object({ blocks: z.array(Block) });
export type BlockList = z.infer<typeof BlockList>;

/** `{ block }`: the block that exists after `POST /api/users/me/blocks`. */
export const BlockAnswer = z.object({ block: Block });
export type BlockAnswer = z.infer<typeof BlockAnswer>;

/** `{ conversation }`: a conversation after it was created or its members changed. */
export const ConversationAnswer = z.object({ conversation: Conversation });
export type ConversationAnswer = z.infer<typeof ConversationAnswer>;

/** `{ conversation }`: one conversation as the caller sees it, with unread count and pointers. */
export const ConversationViewAnswer = z.object({ conversation: ConversationView });
export type ConversationViewAnswer = z.infer<typeof ConversationViewAnswer>;

/** `{ conversations }`: the caller's conversations, most recent activity first. */
export const ConversationList = z.object({ conversations: z.array(ConversationView) });
export type ConversationList = z.infer<typeof ConversationList>;

/** One page of history, ascending by seq. */
export const HistoryPage = z.object({
  messages: z.array(Message),
  /** The `before` of the next (older) page: the smallest seq returned, or null when nothing is older. */
  nextBefore: z.number().int().positive().nullable(),
});
export type HistoryPage = z.infer<typeof HistoryPage>;

/** `{ message }`: a message posted over REST (the original one for a repeated `clientMsgId`). */
export const MessageAnswer = z.object({ message: Message });
export type MessageAnswer = z.infer<typeof MessageAnswer>;

/**
 * How to upload an attachment's bytes: send `method` to `url` with exactly these `headers` and a body
 * of exactly the declared size, before `expiresAt`. The URL is presigned: it carries its own
 * authorisation, so send no `Authorization` header with it.
 */
export const AttachmentUpload = z.object({
  url: z.url(),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()),
  expiresAt: IsoDate,
});
export type AttachmentUpload = z.infer<typeof AttachmentUpload>;

/** `{ attachment, upload }`: a new attachment and how to upload it. */
export const AttachmentCreated = z.object({ attachment: Attachment, upload: AttachmentUpload });
export type AttachmentCreated = z.infer<typeof AttachmentCreated>;

/** `{ url, expiresAt }`: a presigned download of an attachment, valid until `expiresAt`. */
export const AttachmentLink = z.object({ url: z.url(), expiresAt: IsoDate });
export type AttachmentLink = z.infer<typeof AttachmentLink>;

/**
 * One STUN or TURN server, as `RTCPeerConnection`'s `iceServers` takes it: `urls` (`stun:`, `turn:` or
 * `turns:` URLs) and, for TURN, the `username` and `credential` to authenticate with.
 */
export const IceServer = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof IceServer>;

/**
 * `GET /api/calls/ice-servers`: the ICE servers a call's peer connection should use, for the caller.
 * `expiresAt` is when the TURN credentials among them stop working (absent when none expire): ask again
 * before then. An empty list means host candidates only, which is enough on one network.
 */
export const IceServerList = z.object({ iceServers: z.array(IceServer), expiresAt: IsoDate.optional() });
export type IceServerList = z.infer<typeof IceServerList>;

/** The caller's profile in the export: what others see, and the times only the caller sees. */
export const ExportedUser = PublicUser.omit({ deleted: true }).extend({
  updatedAt: IsoDate,
  lastSeen: IsoDate.nullable(),
});
export type ExportedUser = z.infer<typeof ExportedUser>;

/** One stored session in the export, active or not; nothing its refresh tokens derive from. */
export const ExportedSession = SessionView.omit({ current: true }).extend({
  revokedAt: IsoDate.nullable(),
  revokedReason: z.string().nullable(),
});
export type ExportedSession = z.infer<typeof ExportedSession>;

/** The caller's delivery and read pointers in one conversation, in the export. */
export const ExportedReceipt = z.object({
  conversationId: ObjectIdString,
  delivered: z.number().int().nonnegative(),
  deliveredAt: IsoDate.nullable(),
  read: z.number().int().nonnegative(),
  readAt: IsoDate.nullable(),
});
export type ExportedReceipt = z.infer<typeof ExportedReceipt>;

/**
 * `GET /api/users/me/export`: everything parley stores about the caller. `conversations` have
 * `lastMessage: null` (it may be someone else's); `messages` are every message the caller sent.
 */
export const AccountExport = z.object({
  exportedAt: IsoDate,
  user: ExportedUser,
  sessions: z.array(ExportedSession),
  blocks: z.array(Block),
  conversations: z.array(Conversation),
  receipts: z.array(ExportedReceipt),
  messages: z.array(Message),
});
export type AccountExport = z.infer<typeof AccountExport>;
