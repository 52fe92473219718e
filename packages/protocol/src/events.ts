/**
 * The Socket.IO protocol: every event, its payload and its acknowledgement, in one place.
 *
 * The gateway is a `Server<ClientToServerEvents, ServerToClientEvents, …>`,
 * the API and the worker use an `Emitter<ServerToClientEvents>`, and clients can type their socket as
 * `Socket<ServerToClientEvents, ClientToServerEvents>`, so a change here is a compile error everywhere
 * it matters. docs/protocol.md describes the same events for people.
 */
import type { z } from "zod";

import type { ErrorCode, WireError } from "./errors.js";
import {
  AuthRefreshPayload,
  CallIce,
  CallInitiate,
  CallRef,
  CallSdp,
  DeleteMessage,
  EditMessage,
  PointerPayload,
  PresenceQuery,
  ReactMessage,
  SendMessage,
  SyncPayload,
  TypingPayload,
  type CallMedia,
  type Conversation,
  type Message,
  type Presence,
  type SendMessageInput,
} from "./schemas.js";

/** What an acknowledgement carries: `{ ok: true, …result }` or `{ ok: false, error }`. */
export type AckResponse<T extends object> = ({ ok: true } & T) | { ok: false; error: WireError };

/** The acknowledgement callback of a client event. */
export type Ack<T extends object> = (response: AckResponse<T>) => void;

/** Events a client emits. Each one takes a payload and, optionally, an acknowledgement callback. */
export interface ClientToServerEvents {
  /**
   * Sends a message. The server assigns `id`, `seq` and `createdAt`, delivers `message:new` to the other
   * sockets in the conversation on every node, and acknowledges with the stored form of the message.
   * Sending the same `clientMsgId` again (a retry after a lost ack) returns the original message and
   * delivers nothing new.
   */
  "message:send": (payload: SendMessageInput, ack?: Ack<{ message: Message }>) => void;
  /** Edits the content of one of the caller's own messages; members get `message:updated`. */
  "message:edit": (payload: z.input<typeof EditMessage>, ack?: Ack<{ message: Message }>) => void;
  /** Soft-deletes one of the caller's own messages (content removed); members get `message:deleted`. */
  "message:delete": (payload: z.input<typeof DeleteMessage>, ack?: Ack<{ message: Message }>) => void;
  /** Toggles the caller's reaction; members get `message:reaction`. `added` says which way it went. */
  "message:react": (payload: z.input<typeof ReactMessage>, ack?: Ack<{ message: Message; added: boolean }>) => void;
  /** The caller started typing; the other members get `typing` until `typing:stop`, 5 s of silence, or a disconnect. */
  "typing:start": (payload: z.input<typeof TypingPayload>, ack?: Ack<object>) => void;
  /** The caller stopped typing. */
  "typing:stop": (payload: z.input<typeof TypingPayload>, ack?: Ack<object>) => void;
  /**
   * Messages up to `seq` reached one of the caller's devices. The pointer never moves backwards nor past
   * the conversation's last seq; the ack carries its value after the update.
   */
  "conversation:delivered": (payload: z.input<typeof PointerPayload>, ack?: Ack<{ seq: number }>) => void;
  /** The caller has read up to `seq` (which implies delivered). Same rules as `conversation:delivered`. */
  "conversation:read": (payload: z.input<typeof PointerPayload>, ack?: Ack<{ seq: number }>) => void;
  /** Presence of up to 500 users, answered from Redis in one round trip. */
  "presence:query": (
    payload: z.input<typeof PresenceQuery>,
    ack?: Ack<{ presence: Record<string, Presence> }>,
  ) => void;
  /** Every message after `afterSeq`, in seq order; see docs/protocol.md for the recovery algorithm. */
  sync: (payload: z.input<typeof SyncPayload>, ack?: Ack<SyncResult>) => void;
  /**
   * Extends this socket's life with a newer access token of the same user and session (from
   * `POST /api/auth/refresh`), without reconnecting. The ack carries the new expiry; the socket is then
   * cut at that time instead, after a new `session:expiring`.
   */
  "auth:refresh": (payload: z.input<typeof AuthRefreshPayload>, ack?: Ack<{ expiresAt: string }>) => void;
  /** Calls another user; every device of the callee gets `call:incoming`. `BUSY` when either party is in a call. */
  "call:initiate": (payload: z.input<typeof CallInitiate>, ack?: Ack<{ callId: string }>) => void;
  /** The caller's SDP offer, relayed to the callee (all devices while ringing, the answering one after). */
  "call:offer": (payload: z.input<typeof CallSdp>, ack?: Ack<object>) => void;
  /** The callee's SDP answer: answers the call on this device and is relayed to the caller. */
  "call:answer": (payload: z.input<typeof CallSdp>, ack?: Ack<object>) => void;
  /** An ICE candidate, relayed to the other party of the call only. */
  "call:ice-candidate": (payload: z.input<typeof CallIce>, ack?: Ack<object>) => void;
  /** The callee declines a ringing call. */
  "call:reject": (payload: z.input<typeof CallRef>, ack?: Ack<object>) => void;
  /** The caller gives up on a ringing call. */
  "call:cancel": (payload: z.input<typeof CallRef>, ack?: Ack<object>) => void;
  /** Either party hangs up. */
  "call:end": (payload: z.input<typeof CallRef>, ack?: Ack<object>) => void;
}

/** Events the server emits to clients. */
export interface ServerToClientEvents {
  /** First event on every connection: who the socket is, and which gateway process serves it. */
  "session:ready": (payload: SessionReady) => void;
  /**
   * The access token this socket connected (or last refreshed) with expires at `expiresAt`: send
   * `auth:refresh` with a newer one before then, or the socket is disconnected at that time.
   */
  "session:expiring": (payload: { expiresAt: string }) => void;
  /**
   * The server is about to disconnect this socket for good: its token expired (`TOKEN_EXPIRED`: refresh,
   * then reconnect) or its session was revoked (`SESSION_REVOKED`: log in again). The disconnect follows
   * at once, with reason `io server disconnect`, and Socket.IO does not reconnect by itself.
   */
  "session:ended": (payload: SessionEnded) => void;
  /** A new message in one of the user's conversations, delivered before it is persisted. */
  "message:new": (message: Message) => void;
  /** A message is now stored durably in MongoDB. */
  "message:persisted": (payload: MessagePersisted) => void;
  /** The user was made a member of a new conversation; the socket has already joined its room. */
  "conversation:created": (payload: { conversation: Conversation }) => void;
  /**
   * A conversation of the user changed (for example its members). When the user was removed, the
   * conversation no longer lists them and the socket has already left its room.
   */
  "conversation:updated": (payload: { conversation: Conversation }) => void;
  /** A message was edited (full message, with `editedAt`), or otherwise changed state. */
  "message:updated": (message: Message) => void;
  /** A message was deleted by its sender; its content is gone. */
  "message:deleted": (payload: { id: string; conversationId: string }) => void;
  /** A member added (`added: true`) or removed a reaction. */
  "message:reaction": (payload: MessageReaction) => void;
  /** A member is (or stopped) typing. Treat `isTyping: true` as expired after 6 s without a refresh. */
  typing: (payload: { conversationId: string; userId: string; isTyping: boolean }) => void;
  /** A member's delivery pointer moved forward. */
  "conversation:delivered": (payload: PointerMoved) => void;
  /** A member's read pointer moved forward. */
  "conversation:read": (payload: PointerMoved) => void;
  /** A user who shares a conversation with you came online or went offline (their last device). */
  "presence:update": (payload: { userId: string } & Presence) => void;
  /** Someone is calling you (sent to every device). */
  "call:incoming": (payload: { callId: string; callerId: string; media: CallMedia }) => void;
  /** The caller's SDP offer. */
  "call:offer": (payload: { callId: string; sdp: string }) => void;
  /** The callee's SDP answer (to the caller): the call is now active. */
  "call:answer": (payload: { callId: string; sdp: string }) => void;
  /** An ICE candidate from the other party. */
  "call:ice-candidate": (payload: { callId: string; candidate: IceCandidateInit }) => void;
  /** Another of your devices answered this call; stop ringing here. */
  "call:answered-elsewhere": (payload: { callId: string }) => void;
  /** The callee declined. */
  "call:rejected": (payload: { callId: string }) => void;
  /** The caller gave up before anyone answered. */
  "call:cancelled": (payload: { callId: string }) => void;
  /** The call is over: the other party hung up, or their device disconnected. */
  "call:ended": (payload: { callId: string; reason: "hangup" | "disconnected" }) => void;
  /** Nobody answered within 30 seconds (sent to both parties). */
  "call:missed": (payload: { callId: string }) => void;
  /** A client event sent without an acknowledgement callback failed. */
  error: (payload: EventError) => void;
}

export interface SessionReady {
  userId: string;
  /** Name of the gateway process serving this socket, unique per process. */
  node: string;
  /** The session this socket belongs to. */
  sessionId: string;
  /** When the socket's access token expires (ISO): refresh it with `auth:refresh` before then. */
  expiresAt: string;
  /** The protocol version the server speaks, `major.minor` (its `PROTOCOL_VERSION`). */
  protocol: string;
}

/** Payload of `session:ended`. */
export interface SessionEnded {
  code: Extract<ErrorCode, "TOKEN_EXPIRED" | "SESSION_REVOKED">;
  message: string;
}

export interface MessagePersisted {
  id: string;
  conversationId: string;
  seq: number;
  clientMsgId: string;
}

export interface MessageReaction {
  messageId: string;
  conversationId: string;
  userId: string;
  emoji: string;
  added: boolean;
}

export interface PointerMoved {
  conversationId: string;
  userId: string;
  seq: number;
  /** When the pointer moved (ISO). */
  at: string;
}

/** The answer of `sync`. */
export interface SyncResult {
  /** Messages with seq > afterSeq, ascending, each in its latest state (edits, deletes, reactions). */
  messages: Message[];
  /** More messages follow the last one returned: call `sync` again from its seq. */
  hasMore: boolean;
  /** The conversation's current epoch: send it with the next `sync`. */
  epoch: string;
  /**
   * The last seq of the previous epoch: seqs above it were allocated in the current one. When the
   * epoch changed and the client held messages above this base, they were lost and their seqs reused:
   * the answer then starts right after the base, and the client drops what it held above it.
   */
  epochBase: number;
  /**
   * True when `messages` is exactly the gap after `afterSeq` (up to the limit). False when it cannot be:
   * the epoch changed (Redis lost recent state) and some of what the client held was never stored (then
   * drop local messages with seq > `epochBase`), or some messages of the gap cannot be read right now.
   * See docs/protocol.md for the client algorithm.
   */
  recovered: boolean;
}

/** An ICE candidate, as RTCIceCandidateInit. */
export type IceCandidateInit = z.output<typeof CallIce>["candidate"];

/** Payload of the `error` event. */
export interface EventError {
  code: ErrorCode;
  message: string;
  /** The client event that failed, or `session` when the session could not be set up after connecting. */
  event: keyof ClientToServerEvents | "session";
  /** With `RATE_LIMITED`: milliseconds until the event may be sent again. */
  retryAfterMs?: number;
  /** With `VALIDATION`: one entry per invalid field. */
  issues?: WireError["issues"];
}

/** The payload type a client sends with event `E`. */
export type EventPayload<E extends keyof ClientToServerEvents> = Parameters<ClientToServerEvents[E]>[0];

/** The acknowledged result of event `E`, without the `ok` flag. */
export type EventResult<E extends keyof ClientToServerEvents> =
  NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends Ack<infer T> ? T : never;

/**
 * The schema that validates each client event's payload. Every client event must have one (a missing
 * entry does not compile), and each schema must accept exactly the event's declared payload type.
 */
export const clientEventSchemas = {
  "message:send": SendMessage,
  "message:edit": EditMessage,
  "message:delete": DeleteMessage,
  "message:react": ReactMessage,
  "typing:start": TypingPayload,
  "typing:stop": TypingPayload,
  "conversation:delivered": PointerPayload,
  "conversation:read": PointerPayload,
  "presence:query": PresenceQuery,
  sync: SyncPayload,
  "auth:refresh": AuthRefreshPayload,
  "call:initiate": CallInitiate,
  "call:offer": CallSdp,
  "call:answer": CallSdp,
  "call:ice-candidate": CallIce,
  "call:reject": CallRef,
  "call:cancel": CallRef,
  "call:end": CallRef,
} satisfies { [E in keyof ClientToServerEvents]: z.ZodType<unknown, EventPayload<E>> };
