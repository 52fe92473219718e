import { Schema, type Connection, type Model, type Types } from "mongoose";

import type { SessionView } from "@parley/protocol";

/** Why a session ended before its time. */
export type SessionRevokeReason = "logout" | "logout-all" | "revoked" | "password-changed" | "account-deleted" | "refresh-reuse" | "evicted";

/**
 * One logged-in device: what its refresh token is derived from, and what the session list shows. The
 * refresh token itself is never stored (see the API's `RefreshTokens`): it is an HMAC of the session id,
 * the current {@link SessionDoc.generation} and {@link SessionDoc.salt} under a server key, so neither a
 * copy of the database nor of the secret alone yields a usable refresh token.
 */
export interface SessionDoc {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  /** Counts refreshes: the refresh token of generation `g` is valid until the refresh that makes `g + 1`. */
  generation: number;
  /** Random per session (base64url), mixed into every refresh token of the session. */
  salt: string;
  /** When `generation` last moved: the previous token is still honoured for a short grace after it. */
  rotatedAt: Date | null;
  /** The device name the client gave at login, if any. */
  device: string | null;
  /** The User-Agent of the login request, truncated. */
  userAgent: string | null;
  createdAt: Date;
  /** The last login or refresh. */
  lastUsedAt: Date;
  /** When the current refresh token expires (every refresh moves it). */
  expiresAt: Date;
  /** When the session was revoked; null while it is not. */
  revokedAt: Date | null;
  revokedReason: SessionRevokeReason | null;
}

const sessionSchema = new Schema<SessionDoc>(
  {
    userId: { type: Schema.Types.ObjectId, required: true },
    generation: { type: Number, required: true, default: 1 },
    salt: { type: String, required: true },
    rotatedAt: { type: Date, default: null },
    device: { type: String, default: null },
    userAgent: { type: String, default: null },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: null },
  },
  { versionKey: false },
);

export function sessionModel(connection: Connection): Model<SessionDoc> {
  return connection.model<SessionDoc>("Session", sessionSchema, "sessions");
}

/** Whether a session can still be used (not revoked, refresh token not expired) at `now`. */
export function isSessionActive(doc: Pick<SessionDoc, "revokedAt" | "expiresAt">, now = new Date()): boolean {
  return doc.revokedAt === null && doc.expiresAt.getTime() > now.getTime();
}

/** A session as its user sees it in the session list. */
export function sessionToWire(doc: SessionDoc, currentSessionId: string | undefined): SessionView {
  const id = doc._id.toHexString();
  return {
    id,
    device: doc.device,
    userAgent: doc.userAgent,
    createdAt: doc.createdAt.toISOString(),
    lastUsedAt: doc.lastUsedAt.toISOString(),
    expiresAt: doc.expiresAt.toISOString(),
    current: id === currentSessionId,
  };
}
