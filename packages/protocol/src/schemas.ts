/**
 * zod schemas for every input a client sends (socket payloads, REST bodies and queries) and for the
 * shapes parley sends back. Types are inferred from these schemas, never written twice.
 */
import { z } from "zod";

/** Longest message content, in Unicode code points, after trimming. */
export const MAX_CONTENT_LENGTH = 4000;
/** Most members a group conversation may have, its creator included. */
export const MAX_GROUP_MEMBERS = 1000;

/** A MongoDB ObjectId as 24 lowercase hex characters: every id in parley. */
export const ObjectIdString = z
  .string()
  .regex(/^[0-9a-f]{24}$/, "must be a 24-character lowercase hex id")
  .describe("An id: 24 lowercase hex characters (a MongoDB ObjectId).");

/** An ISO-8601 timestamp with milliseconds, as produced by `Date#toISOString`. */
export const IsoDate = z.iso.datetime();

/** Message kinds. `content` is text for all of them (a caption or a URL for media, parsed by clients). */
export const MessageType = z.enum(["text", "image", "file"]);
export type MessageType = z.infer<typeof MessageType>;

/** Message text: trimmed, then 1..{@link MAX_CONTENT_LENGTH} code points (an emoji counts once). */
export const MessageContent = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .refine((s) => codePointLength(s) <= MAX_CONTENT_LENGTH, {
    message: `must be at most ${MAX_CONTENT_LENGTH} characters`,
  });

/** The client's own id for a message, unique per sender: a retry with the same id is deduplicated. */
export const ClientMsgId = z.string().min(1, "must not be empty").max(64, "must be at most 64 characters");

/** Most attachments on one message. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/** Longest attachment name, in characters. */
export const MAX_ATTACHMENT_NAME_LENGTH = 255;

/** What an attachment is shown as: decided by the server from the file's first bytes, not by the client. */
export const AttachmentKind = z.enum(["image", "video", "audio", "file"]);
export type AttachmentKind = z.infer<typeof AttachmentKind>;

/** The thumbnail of an image attachment: a WebP without metadata, fetched with `?variant=thumbnail`. */
export const AttachmentThumbnail = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  contentType: z.string(),
});
export type AttachmentThumbnail = z.infer<typeof AttachmentThumbnail>;

/**
 * A file attached to a message. `contentType` and `kind` are what the server found in the file's first
 * bytes; `width`/`height` (images), `durationMs` (audio) and `thumbnail` (images) arrive later, with a
 * `message:updated` (new `rev`), once the worker has processed the file.
 */
export const Attachment = z.object({
  id: ObjectIdString,
  /** The file name the uploader gave, for display and downloads; never a storage path. */
  name: z.string(),
  /** Bytes. */
  size: z.number().int().positive(),
  contentType: z.string(),
  kind: AttachmentKind,
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  durationMs: z.number().int().nonnegative().optional(),
  thumbnail: AttachmentThumbnail.optional(),
});
export type Attachment = z.infer<typeof Attachment>;

/** A MIME type without parameters, lower case: `image/png`. */
export const ContentType = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/, "must be a MIME type such as image/png, without parameters");

/** A file name for display: no path, no control characters. */
export const AttachmentName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(MAX_ATTACHMENT_NAME_LENGTH, `must be at most ${MAX_ATTACHMENT_NAME_LENGTH} characters`)
  .refine((s) => !/[\u0000-\u001f\u007f/\\]/.test(s), { message: "must not contain control characters, / or \\" });

/** Body of `POST /api/conversations/:id/attachments`: the file about to be uploaded. */
export const CreateAttachmentBody = z.object({
  name: AttachmentName,
  /** Bytes; the upload must be exactly this long. The server's limit (25 MiB by default) applies. */
  size: z.number().int().positive(),
  /** The type the upload is signed for; the file's first bytes must agree with it when the message is sent. */
  contentType: ContentType,
});
export type CreateAttachmentBody = z.output<typeof CreateAttachmentBody>;

/** Query of `GET /api/attachments/:id`. */
export const AttachmentQuery = z.object({
  variant: z.enum(["original", "thumbnail"]).default("original").describe("`thumbnail` for an image's thumbnail."),
  redirect: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("`false` answers `200 { url, expiresAt }` instead of a redirect (for `<img src>`, which cannot send a token)."),
});

/** The attachment ids of a send: distinct, at most {@link MAX_ATTACHMENTS_PER_MESSAGE}. */
export const AttachmentIds = z
  .array(ObjectIdString)
  .max(MAX_ATTACHMENTS_PER_MESSAGE, `must list at most ${MAX_ATTACHMENTS_PER_MESSAGE} attachments`)
  .refine((ids) => new Set(ids).size === ids.length, { message: "must not list an attachment twice" });

/** The fields of a send, before the rule that a message has content or attachments. */
const SendFields = z.object({
  conversationId: ObjectIdString,
  clientMsgId: ClientMsgId,
  /** The text, or a caption; may be empty (or absent) when the message has attachments. */
  content: z.string().trim().default(""),
  type: MessageType.default("text"),
  replyToId: ObjectIdString.optional(),
  /** Uploaded attachments (`POST /api/conversations/:id/attachments`) of the sender, for this conversation. */
  attachmentIds: AttachmentIds.optional(),
});

/** A send's content: 1..{@link MAX_CONTENT_LENGTH} code points, or empty with attachments. */
function checkSendContent(send: { content: string; attachmentIds?: readonly string[] | undefined }, ctx: z.RefinementCtx): void {
  if (send.content === "" && !send.attachmentIds?.length) {
    ctx.addIssue({ code: "custom", path: ["content"], message: "must not be empty" });
  } else if (codePointLength(send.content) > MAX_CONTENT_LENGTH) {
    ctx.addIssue({ code: "custom", path: ["content"], message: `must be at most ${MAX_CONTENT_LENGTH} characters` });
  }
}

/** Payload of `message:send`. */
export const SendMessage = SendFields.superRefine(checkSendContent);
export type SendMessageInput = z.input<typeof SendMessage>;
export type SendMessage = z.output<typeof SendMessage>;

/**
 * Addresses an existing message. `conversationId` is optional for compatibility, but clients should
 * always send it: without it the server finds the message in MongoDB, so a message that the worker has
 * not stored yet cannot be found.
 */
const MessageRef = {
  messageId: ObjectIdString,
  conversationId: ObjectIdString.optional(),
};

/** Payload of `message:edit` (sender only). */
export const EditMessage = z.object({ ...MessageRef, content: MessageContent });
export type EditMessage = z.output<typeof EditMessage>;

/** Payload of `message:delete` (sender only; a soft delete). */
export const DeleteMessage = z.object(MessageRef);
export type DeleteMessage = z.output<typeof DeleteMessage>;

/** Most distinct emoji on one message. */
export const MAX_REACTIONS_PER_MESSAGE = 50;

const EMOJI_PARTS = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f)+$/u;
const EMOJI_CORE = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

/** One emoji (pictographs with their modifiers, joiners and flags), at most 16 code points. */
export const Emoji = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => codePointLength(s) <= 16 && EMOJI_PARTS.test(s) && EMOJI_CORE.test(s), {
    message: "must be a single emoji",
  });

/** Payload of `message:react`: toggles the caller's reaction with `emoji`. */
export const ReactMessage = z.object({ ...MessageRef, emoji: Emoji });
export type ReactMessage = z.output<typeof ReactMessage>;

/** Payload of `typing:start` and `typing:stop`. */
export const TypingPayload = z.object({ conversationId: ObjectIdString });

/** Payload of `conversation:delivered` and `conversation:read`: the caller has received / read up to `seq`. */
export const PointerPayload = z.object({
  conversationId: ObjectIdString,
  seq: z.number().int().nonnegative(),
});
export type PointerPayload = z.output<typeof PointerPayload>;

/** Most users in one `presence:query`. */
export const MAX_PRESENCE_QUERY = 500;

/** Payload of `presence:query`. */
export const PresenceQuery = z.object({
  userIds: z.array(ObjectIdString).min(1).max(MAX_PRESENCE_QUERY, `must name at most ${MAX_PRESENCE_QUERY} users`),
});

/**
 * A user's presence. `lastSeen` is when their last socket disconnected; null if never seen. `unknown`
 * (with a null `lastSeen`) is what a caller sees of a user they share no conversation with, or between
 * whom and the caller there is a block.
 */
export const Presence = z.object({
  status: z.enum(["online", "offline", "unknown"]),
  lastSeen: IsoDate.nullable(),
});
export type Presence = z.infer<typeof Presence>;

/** Most messages one `sync` returns. */
export const MAX_SYNC_LIMIT = 500;

/** Payload of `sync`: every message after `afterSeq` (the last seq the client holds; 0 for none). */
export const SyncPayload = z.object({
  conversationId: ObjectIdString,
  afterSeq: z.number().int().nonnegative(),
  /** The epoch the client's `afterSeq` belongs to, from a previous `sync` answer. */
  epoch: z.string().min(1).max(64).optional(),
  limit: z.number().int().min(1).max(MAX_SYNC_LIMIT).default(100),
});
export type SyncPayload = z.output<typeof SyncPayload>;

export const CallMedia = z.enum(["audio", "video"]);
export type CallMedia = z.infer<typeof CallMedia>;

/** Payload of `call:initiate`. */
export const CallInitiate = z.object({ calleeId: ObjectIdString, media: CallMedia });

/** A call id: a UUID. */
export const CallId = z.uuid();

/** Payload of `call:reject`, `call:cancel` and `call:end`. */
export const CallRef = z.object({ callId: CallId });

/** An SDP offer or answer, as produced by RTCPeerConnection (at most 32 KiB). */
export const CallSdp = z.object({ callId: CallId, sdp: z.string().min(1).max(32_768) });

/** An ICE candidate, as in RTCIceCandidateInit. */
export const IceCandidate = z.object({
  candidate: z.string().max(2048),
  sdpMid: z.string().max(256).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

/** Payload of `call:ice-candidate`. */
export const CallIce = z.object({ callId: CallId, candidate: IceCandidate });

/** Body of `POST /api/conversations/:id/messages`: a send whose conversation is in the path. */
export const PostMessageBody = SendFields.omit({ conversationId: true }).superRefine(checkSendContent);

/**
 * A message, the same shape on every surface: socket events, REST bodies and the worker's job data.
 * `createdAt` is an ISO string on the wire.
 */
export const Message = z.object({
  id: ObjectIdString,
  conversationId: ObjectIdString,
  /** Position in the conversation: 1, 2, 3… strictly increasing, without gaps. */
  seq: z.number().int().positive(),
  senderId: ObjectIdString,
  clientMsgId: ClientMsgId,
  content: z.string(),
  type: MessageType,
  createdAt: IsoDate,
  replyToId: ObjectIdString.optional(),
  /**
   * Revision: absent (0) as sent, +1 for every edit, delete or reaction. Of two states of one message,
   * the higher rev is the newer.
   */
  rev: z.number().int().positive().optional(),
  /** When the content was last edited. */
  editedAt: IsoDate.optional(),
  /** When the sender deleted the message; its content is then empty. */
  deletedAt: IsoDate.optional(),
  /** Reactions: emoji → ids of the users who reacted with it, in the order they did. */
  reactions: z.record(z.string(), z.array(ObjectIdString)).optional(),
  /** Files, in the order the sender listed them; removed when the message is deleted. */
  attachments: z.array(Attachment).optional(),
  /**
   * In `sync` and history answers (and the states they were read in): the message is stored in the
   * database, as `message:persisted` says live. Absent on live events, and where the server does not
   * know it yet; absence never means the message is lost.
   */
  persisted: z.literal(true).optional(),
});
export type Message = z.infer<typeof Message>;

export const Username = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{3,32}$/, "must be 3 to 32 characters of letters, digits, '_', '.' or '-'");
export const Password = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(256, "must be at most 256 characters");
export const DisplayName = z.string().trim().min(1, "must not be empty").max(64, "must be at most 64 characters");

/** A name the client gives the device a session is on ("Firefox on a laptop"), shown in the session list. */
export const DeviceName = z.string().trim().min(1, "must not be empty").max(64, "must be at most 64 characters");

/** Body of `POST /api/auth/register`. */
export const RegisterBody = z.object({
  username: Username,
  password: Password,
  displayName: DisplayName.optional(),
  device: DeviceName.optional(),
});

/** A password as presented to be checked: deliberately lax, since a wrong shape is just a wrong password. */
const PresentedPassword = z.string().min(1).max(256);

/** Body of `POST /api/auth/login`. Deliberately lax: a wrong shape is just wrong credentials. */
export const LoginBody = z.object({
  username: z.string().min(1).max(64),
  password: PresentedPassword,
  device: DeviceName.optional(),
});

/** Body of `POST /api/auth/refresh`. */
export const RefreshBody = z.object({ refreshToken: z.string().min(1).max(512) });

/** Body of `POST /api/users/me/password`: the current password, and the new one. */
export const ChangePasswordBody = z.object({ currentPassword: PresentedPassword, newPassword: Password });

/** An avatar: an absolute http(s) URL. */
export const AvatarUrl = z
  .url({ protocol: /^https?$/, error: "must be an http or https URL" })
  .max(2048, "must be at most 2048 characters");

/** Body of `PATCH /api/users/me`: the fields to change (`avatarUrl: null` removes the avatar). */
export const UpdateMeBody = z
  .object({ displayName: DisplayName.optional(), avatarUrl: AvatarUrl.nullable().optional() })
  .refine((b) => b.displayName !== undefined || b.avatarUrl !== undefined, { message: "must change displayName or avatarUrl" });

/** Body of `DELETE /api/users/me`: the password, to confirm. */
export const DeleteMeBody = z.object({ password: PresentedPassword });

/** Query of `DELETE /api/users/me`: `erase=true` also deletes the content of every message the user sent. */
export const DeleteMeQuery = z.object({
  erase: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .describe("`true` also deletes the content of every message the user sent, asynchronously (the answer is then `202`)."),
});

/** Body of `POST /api/users/me/blocks`. */
export const BlockBody = z.object({ userId: ObjectIdString });

/** A user the caller blocks, as `GET /api/users/me/blocks` lists them. */
export const Block = z.object({ userId: ObjectIdString, createdAt: IsoDate });
export type Block = z.infer<typeof Block>;

/** An access token as a client presents it: an HS256 JWT from register, login or refresh. */
export const AccessToken = z.string().min(1).max(4096);

/** Payload of `auth:refresh`: a newer access token of the same user and session. */
export const AuthRefreshPayload = z.object({ token: AccessToken });

/**
 * The Socket.IO handshake's `auth` object (`io(url, { auth })`). Other fields are ignored.
 *
 * - `token`: the access token. A client that cannot set `auth` may send it as the `token` query
 *   parameter or an `Authorization: Bearer` header instead.
 * - `protocol`: the protocol version the client speaks, `major.minor` (`PROTOCOL_VERSION` of the
 *   `@parley/protocol` it was built with). A server refuses one it does not speak, malformed or of
 *   another major, with `UNSUPPORTED_PROTOCOL`. Absent, the client is taken to speak the server's
 *   current major, so plain socket.io-client code and older clients keep working.
 */
export const HandshakeAuth = z.object({
  token: AccessToken.optional(),
  protocol: z.string().max(16).optional(),
});
export type HandshakeAuth = z.infer<typeof HandshakeAuth>;

/** Query of `GET /api/users`: a username prefix, case-insensitive. */
export const UserSearchQuery = z.object({
  q: z.string().trim().min(1, "must not be empty").max(32, "must be at most 32 characters").describe("The start of a username, any case; trimmed."),
  limit: z.coerce.number<number>().int().min(1).max(50).default(20).describe("Most users in the answer."),
});

/**
 * A user as other users see it. A deleted account keeps its id (its messages still name it as sender)
 * with `deleted: true`, an empty username and the display name "Deleted user".
 */
export const PublicUser = z.object({
  id: ObjectIdString,
  username: z.string(),
  displayName: z.string(),
  avatarUrl: z.string().nullable(),
  createdAt: IsoDate,
  deleted: z.literal(true).optional(),
});
export type PublicUser = z.infer<typeof PublicUser>;

/**
 * What register, login and refresh answer: the user, a short-lived access token for
 * `Authorization: Bearer` and the socket handshake, and the session's refresh token.
 */
export const AuthSession = z.object({
  user: PublicUser,
  /** HS256 JWT, valid for `expiresIn` seconds. */
  accessToken: z.string(),
  /** Opaque; exchanged for new tokens at `POST /api/auth/refresh`, once. */
  refreshToken: z.string(),
  /** Lifetime of `accessToken`, in seconds. */
  expiresIn: z.number().int().positive(),
  sessionId: ObjectIdString,
});
export type AuthSession = z.infer<typeof AuthSession>;

/** One session (a logged-in device) as `GET /api/auth/sessions` lists it. */
export const SessionView = z.object({
  id: ObjectIdString,
  /** The device name given at login or registration. */
  device: z.string().nullable(),
  /** The User-Agent header of the login. */
  userAgent: z.string().nullable(),
  createdAt: IsoDate,
  /** The last login or refresh. */
  lastUsedAt: IsoDate,
  /** When the current refresh token expires, unless refreshed before. */
  expiresAt: IsoDate,
  /** The session of the access token that asked. */
  current: z.boolean(),
});
export type SessionView = z.infer<typeof SessionView>;

const MemberIds = z
  .array(ObjectIdString)
  .min(1, "must name at least one user")
  .max(MAX_GROUP_MEMBERS - 1, `must name at most ${MAX_GROUP_MEMBERS - 1} users`);

/** Body of `POST /api/conversations`. */
export const CreateConversationBody = z.discriminatedUnion("type", [
  z.object({ type: z.literal("direct"), userId: ObjectIdString }),
  z.object({
    type: z.literal("group"),
    name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
    memberIds: MemberIds,
  }),
]);
export type CreateConversationBody = z.infer<typeof CreateConversationBody>;

/** Body of `POST /api/conversations/:id/members`. */
export const AddMembersBody = z.object({ userIds: MemberIds });

/** Query of `GET /api/conversations/:id/messages`: the page of messages with `seq < before`. */
export const HistoryQuery = z.object({
  before: z.coerce
    .number<number>()
    .int()
    .positive()
    .optional()
    .describe("Only messages with a smaller seq: the `nextBefore` of the previous page. Absent: the newest page."),
  limit: z.coerce.number<number>().int().min(1).max(100).default(50).describe("Most messages in the page."),
});

/** A conversation as its members see it. */
export const Conversation = z.object({
  id: ObjectIdString,
  type: z.enum(["direct", "group"]),
  /** Group name; null for direct conversations. */
  name: z.string().nullable(),
  members: z.array(ObjectIdString),
  /** Members who may add and remove others (groups); both members for direct conversations. */
  admins: z.array(ObjectIdString),
  createdBy: ObjectIdString,
  createdAt: IsoDate,
  updatedAt: IsoDate,
  /** Seq of the newest persisted message; 0 when there is none yet. */
  lastSeq: z.number().int().nonnegative(),
  lastMessage: Message.nullable(),
});
export type Conversation = z.infer<typeof Conversation>;

/**
 * A conversation as one member sees it in listings: with that member's unread count and every
 * member's delivery and read pointers ("read by" ticks).
 */
export const ConversationView = Conversation.extend({
  /** Messages after the caller's read pointer (the caller's own never count: sending marks read). */
  unreadCount: z.number().int().nonnegative(),
  /** Member id → highest seq that member has read. */
  readPointers: z.record(ObjectIdString, z.number().int().nonnegative()),
  /** Member id → highest seq delivered to one of that member's devices. */
  deliveredPointers: z.record(ObjectIdString, z.number().int().nonnegative()),
});
export type ConversationView = z.infer<typeof ConversationView>;

/** Path parameter holding an id (`/:id`). */
export const IdParams = z.object({ id: ObjectIdString });

/** Length in Unicode code points, so that an emoji counts as one character. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A lone surrogate (half of a UTF-16 pair without its other half) or a NUL character. */
const MALFORMED_TEXT = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\u0000/;

/** Deepest nesting {@link findMalformedText} follows; deeper input is refused as a whole. */
const MAX_INPUT_DEPTH = 32;

/** Whether `s` is well-formed Unicode text without NUL: it can be encoded as UTF-8 and stored as is. */
export function isWellFormedText(s: string): boolean {
  return !MALFORMED_TEXT.test(s);
}

/**
 * The path of the first string (value or object key) of `input` that is not {@link isWellFormedText},
 * or of the first value nested deeper than {@link MAX_INPUT_DEPTH}; undefined when there is none.
 */
export function findMalformedText(input: unknown, path: readonly (string | number)[] = []): { path: string; message: string } | undefined {
  if (typeof input === "string") {
    return isWellFormedText(input) ? undefined : { path: path.join("."), message: "must be well-formed Unicode text without NUL characters" };
  }
  if (input === null || typeof input !== "object") return undefined;
  if (path.length >= MAX_INPUT_DEPTH) return { path: path.join("."), message: `must not be nested more than ${MAX_INPUT_DEPTH} levels deep` };
  if (Array.isArray(input)) {
    for (let i = 0; i < input.length; i++) {
      const found = findMalformedText(input[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, value] of Object.entries(input)) {
    if (!isWellFormedText(key)) return { path: path.join("."), message: "must not have keys that are malformed Unicode or contain NUL characters" };
    const found = findMalformedText(value, [...path, key]);
    if (found) return found;
  }
  return undefined;
}
