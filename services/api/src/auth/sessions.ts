/**
 * Sessions: one per logged-in device, each with a short-lived access token (JWT) and a refresh token
 * that rotates on every use.
 *
 * - A refresh returns a new access token and the next refresh token; the one presented stops working.
 * - Presenting a refresh token that was already rotated away is taken as theft (someone holds a copy):
 *   the whole session is revoked, except within a short grace after the rotation, when it is two tabs
 *   of one browser refreshing at once, and the late one receives the same new tokens as the first.
 * - Revoking a session (logout, logout everywhere, a password change, the account's deletion, reuse)
 *   marks it in MongoDB, records it in Redis so that its access tokens are refused by every API and
 *   gateway process within a second, and has every gateway end the session's sockets.
 */
import { Types } from "mongoose";

import { signAccessToken } from "@parley/shared/auth";
import type { ParleyEmitter } from "@parley/shared/emitter";
import { revokeOnGateways } from "@parley/shared/emitter";
import { AuthError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import { isSessionActive, sessionToWire, type Models, type SessionDoc, type SessionRevokeReason } from "@parley/shared/models";
import type { SessionView } from "@parley/protocol";
import type { SessionRevocations } from "@parley/shared/sessions/revocations";

import { RefreshTokens } from "./refresh-tokens.js";

/** Tokens handed to a client for one session. */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Lifetime of `accessToken`, in seconds. */
  expiresIn: number;
  sessionId: string;
}

/** Where a login comes from, as shown in the session list. */
export interface ClientInfo {
  device?: string | undefined;
  userAgent?: string | undefined;
}

/** Lifetimes and limits of sessions, from the API's configuration. */
export interface SessionSettings {
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** How long after a rotation the previous refresh token still answers with the new tokens. */
  reuseGraceSeconds: number;
  /** Active sessions a user may have; a login beyond revokes the least recently used. */
  maxSessionsPerUser: number;
}

export interface SessionsDeps {
  models: Pick<Models, "Session" | "User">;
  revocations: SessionRevocations;
  emitter: ParleyEmitter;
  log: Logger;
  settings: SessionSettings;
}

/** What a user's sockets are told when their session is revoked, by reason. */
const REVOKED_MESSAGES: Record<SessionRevokeReason, string> = {
  logout: "You logged out",
  "logout-all": "You logged out on every device",
  revoked: "This session was revoked",
  "password-changed": "Your password was changed: log in again",
  "account-deleted": "This account was deleted",
  "refresh-reuse": "This session was revoked because its refresh token was used twice",
  evicted: "This session was closed because the account has too many",
};

/** The longest User-Agent kept. */
const MAX_USER_AGENT_LENGTH = 256;

const oid = (id: string) => new Types.ObjectId(id);

export class Sessions {
  private readonly tokens: RefreshTokens;

  constructor(private readonly deps: SessionsDeps) {
    this.tokens = new RefreshTokens(deps.settings.jwtSecret);
  }

  /**
   * Opens a session for `userId` and returns its tokens.
   * @throws {AuthError} `USER_NOT_FOUND` when the user was deleted meanwhile.
   */
  async create(userId: Types.ObjectId, client: ClientInfo, now = new Date()): Promise<IssuedTokens> {
    const { Session, User } = this.deps.models;
    const doc: SessionDoc = {
      _id: new Types.ObjectId(),
      userId,
      generation: 1,
      salt: RefreshTokens.newSalt(),
      rotatedAt: null,
      device: client.device ?? null,
      userAgent: client.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) || null,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: this.refreshExpiry(now),
      revokedAt: null,
      revokedReason: null,
    };
    await Session.create(doc);
    // No projection: FerretDB does not implement one on findAndModify.
    const user = await User.findOneAndUpdate({ _id: userId, deletedAt: null }, { $push: { sessionIds: doc._id } }, { returnDocument: "after" })
      .lean<{ sessionIds: Types.ObjectId[] }>()
      .exec();
    if (!user) {
      await Session.deleteOne({ _id: doc._id });
      throw new AuthError("USER_NOT_FOUND", "This account no longer exists");
    }
    if (user.sessionIds.length > this.deps.settings.maxSessionsPerUser) await this.prune(userId.toHexString(), user.sessionIds, now);
    return this.issue(doc);
  }

  /**
   * Exchanges a refresh token for new tokens (see the module comment for rotation, grace and reuse).
   * @throws {AuthError} `INVALID_TOKEN` for a token this server did not issue, `TOKEN_EXPIRED` when it
   * expired, `SESSION_REVOKED` when its session was revoked (or is now, for a reused token), and
   * `USER_NOT_FOUND` when the account is gone.
   */
  async refresh(refreshToken: string, now = new Date()): Promise<{ userId: Types.ObjectId; tokens: IssuedTokens }> {
    const parsed = RefreshTokens.parse(refreshToken);
    if (!parsed) throw invalidRefreshToken();
    const { Session } = this.deps.models;
    let doc = await Session.findById(oid(parsed.sessionId)).lean<SessionDoc>().exec();
    if (!doc || !this.tokens.matches(parsed, doc.salt)) throw invalidRefreshToken();
    for (let attempt = 0; ; attempt++) {
      if (doc.revokedAt) throw new AuthError("SESSION_REVOKED", "This session was revoked: log in again");
      if (doc.expiresAt.getTime() <= now.getTime()) throw new AuthError("TOKEN_EXPIRED", "The refresh token has expired: log in again");
      if (parsed.generation === doc.generation) {
        const rotated = await Session.findOneAndUpdate(
          { _id: doc._id, generation: doc.generation, revokedAt: null },
          { $set: { generation: doc.generation + 1, rotatedAt: now, lastUsedAt: now, expiresAt: this.refreshExpiry(now) } },
          { returnDocument: "after" },
        )
          .lean<SessionDoc>()
          .exec();
        if (rotated) return { userId: rotated.userId, tokens: this.issue(rotated) };
        // Another refresh of the same token rotated it first: judge this one against the new state.
        const current = await Session.findById(doc._id).lean<SessionDoc>().exec();
        if (!current || attempt > 0) throw invalidRefreshToken();
        doc = current;
        continue;
      }
      const graceMs = this.deps.settings.reuseGraceSeconds * 1000;
      if (parsed.generation === doc.generation - 1 && doc.rotatedAt && now.getTime() - doc.rotatedAt.getTime() <= graceMs) {
        // Two refreshes raced: the late one gets what the first got (the token is derived, not stored).
        return { userId: doc.userId, tokens: this.issue(doc) };
      }
      if (parsed.generation < doc.generation) {
        this.deps.log.warn({ userId: doc.userId.toHexString(), sessionId: parsed.sessionId }, "refresh token reused: session revoked");
        await this.revoke(doc.userId.toHexString(), [parsed.sessionId], "refresh-reuse", now);
        throw new AuthError("SESSION_REVOKED", "This refresh token was already used: the session is revoked, log in again");
      }
      throw invalidRefreshToken();
    }
  }

  /**
   * Revokes `sessionIds` of `userId`: their refresh tokens stop working, their access tokens are refused
   * everywhere, and their sockets are told why and disconnected on every gateway. Idempotent.
   */
  async revoke(userId: string, sessionIds: readonly string[], reason: SessionRevokeReason, now = new Date()): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.deps.models.Session.updateMany(
      { _id: { $in: sessionIds.map(oid) }, userId: oid(userId), revokedAt: null },
      { $set: { revokedAt: now, revokedReason: reason } },
    ).exec();
    await this.deps.revocations.record(userId, sessionIds, this.deps.settings.accessTokenTtlSeconds);
    revokeOnGateways(this.deps.emitter, {
      userId,
      sessionIds: [...sessionIds],
      ended: { code: "SESSION_REVOKED", message: REVOKED_MESSAGES[reason] },
    });
  }

  /**
   * Revokes every active session of `userId` but `except` (the caller's own, for a password change).
   * Returns how many were revoked.
   */
  async revokeAll(userId: string, reason: SessionRevokeReason, options: { except?: string } = {}, now = new Date()): Promise<number> {
    return this.revokeActive(userId, await this.sessionIdsOf(userId), reason, options, now);
  }

  /**
   * Revokes those of `sessionIds` (sessions of `userId`) that are still active, but `except`: for the
   * sessions of an account whose list was just emptied (its deletion). Returns how many were revoked.
   */
  async revokeActive(
    userId: string,
    sessionIds: readonly Types.ObjectId[],
    reason: SessionRevokeReason,
    options: { except?: string } = {},
    now = new Date(),
  ): Promise<number> {
    const ids = (await this.activeAmong(sessionIds, now)).map((s) => s._id.toHexString()).filter((id) => id !== options.except);
    await this.revoke(userId, ids, reason, now);
    return ids.length;
  }

  /**
   * Revokes one session of `userId`.
   * @returns false when `userId` has no such session (or it already ended).
   */
  async revokeOne(userId: string, sessionId: string, reason: SessionRevokeReason, now = new Date()): Promise<boolean> {
    const doc = await this.deps.models.Session.findById(oid(sessionId), { userId: 1, revokedAt: 1, expiresAt: 1 })
      .lean<Pick<SessionDoc, "_id" | "userId" | "revokedAt" | "expiresAt">>()
      .exec();
    if (!doc || !doc.userId.equals(userId) || !isSessionActive(doc, now)) return false;
    await this.revoke(userId, [sessionId], reason, now);
    return true;
  }

  /** The active sessions of `userId`, most recently used first, marking `currentSessionId`. */
  async list(userId: string, currentSessionId: string | undefined, now = new Date()): Promise<SessionView[]> {
    return (await this.activeSessions(userId, now)).map((doc) => sessionToWire(doc, currentSessionId));
  }

  /** Every session document of `userId` (active or not), oldest first, for the account export. */
  async all(userId: string): Promise<SessionDoc[]> {
    const ids = await this.sessionIdsOf(userId);
    const docs = await this.deps.models.Session.find({ _id: { $in: ids } }).lean<SessionDoc[]>().exec();
    return docs.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /** The active sessions of `userId`, most recently used first; read by `_id` from the user's list. */
  private async activeSessions(userId: string, now: Date): Promise<SessionDoc[]> {
    return this.activeAmong(await this.sessionIdsOf(userId), now);
  }

  /** Those of the sessions `ids` that are active, most recently used first. */
  private async activeAmong(ids: readonly Types.ObjectId[], now: Date): Promise<SessionDoc[]> {
    if (ids.length === 0) return [];
    const docs = await this.deps.models.Session.find({ _id: { $in: [...ids] } }).lean<SessionDoc[]>().exec();
    return docs.filter((doc) => isSessionActive(doc, now)).sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime());
  }

  private async sessionIdsOf(userId: string): Promise<Types.ObjectId[]> {
    const user = await this.deps.models.User.findById(oid(userId), { sessionIds: 1 }).lean<{ sessionIds?: Types.ObjectId[] }>().exec();
    return user?.sessionIds ?? [];
  }

  /**
   * Keeps a user's session list short: forgets sessions that ended (revoked or expired) and revokes the
   * least recently used active ones beyond `maxSessionsPerUser`.
   */
  private async prune(userId: string, sessionIds: readonly Types.ObjectId[], now: Date): Promise<void> {
    const { Session, User } = this.deps.models;
    const docs = await Session.find({ _id: { $in: [...sessionIds] } }).lean<SessionDoc[]>().exec();
    const found = new Set(docs.map((d) => d._id.toHexString()));
    const active = docs.filter((d) => isSessionActive(d, now)).sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime());
    const evicted = active.slice(this.deps.settings.maxSessionsPerUser);
    await this.revoke(userId, evicted.map((d) => d._id.toHexString()), "evicted", now);
    const ended = [...docs.filter((d) => !isSessionActive(d, now)), ...evicted].map((d) => d._id);
    const missing = sessionIds.filter((id) => !found.has(id.toHexString()));
    if (ended.length + missing.length === 0) return;
    await User.updateOne({ _id: oid(userId) }, { $pull: { sessionIds: { $in: [...ended, ...missing] } } }).exec();
    await Session.deleteMany({ _id: { $in: ended } }).exec();
  }

  private issue(doc: Pick<SessionDoc, "_id" | "userId" | "generation" | "salt">): IssuedTokens {
    const sessionId = doc._id.toHexString();
    const { accessTokenTtlSeconds, jwtSecret } = this.deps.settings;
    return {
      accessToken: signAccessToken({ userId: doc.userId.toHexString(), sessionId }, jwtSecret, accessTokenTtlSeconds).token,
      refreshToken: this.tokens.format(sessionId, doc.generation, doc.salt),
      expiresIn: accessTokenTtlSeconds,
      sessionId,
    };
  }

  private refreshExpiry(now: Date): Date {
    return new Date(now.getTime() + this.deps.settings.refreshTokenTtlSeconds * 1000);
  }
}

function invalidRefreshToken(): AuthError {
  return new AuthError("INVALID_TOKEN", "The refresh token is invalid");
}
