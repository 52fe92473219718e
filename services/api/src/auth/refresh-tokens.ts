/**
 * Refresh tokens: `<session id>.<generation>.<mac>`, where the MAC is an HMAC-SHA256, under a key
 * derived from `JWT_SECRET`, of the session id, the generation and the session's random salt.
 *
 * Nothing of the token is stored: the session document holds its generation and salt, from which the
 * server recomputes the current token. That is what lets two refreshes of the same token that race each
 * other both receive the *same* next token (see `Sessions.refresh`), where a stored random token could
 * only be handed to the first. Changing `JWT_SECRET` invalidates every refresh token, like every access
 * token.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/** The parts of a well-formed refresh token; whether it is genuine is {@link RefreshTokens.matches}. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
  mac: Buffer;
}

const FORMAT = /^([0-9a-f]{24})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})$/;

export class RefreshTokens {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync("sha256", secret, "parley", "refresh tokens v1", 32));
  }

  /** A fresh random salt for a new session. */
  static newSalt(): string {
    return randomBytes(16).toString("base64url");
  }

  /** The refresh token of `generation` of a session. */
  format(sessionId: string, generation: number, salt: string): string {
    return `${sessionId}.${generation}.${this.mac(sessionId, generation, salt).toString("base64url")}`;
  }

  /** The parts of `token`, or undefined when it is not shaped like a refresh token. */
  static parse(token: string): ParsedRefreshToken | undefined {
    const match = FORMAT.exec(token);
    if (!match) return undefined;
    return { sessionId: match[1]!, generation: Number(match[2]), mac: Buffer.from(match[3]!, "base64url") };
  }

  /** Whether `token` was issued for its session and generation by this server (constant time). */
  matches(token: ParsedRefreshToken, salt: string): boolean {
    const expected = this.mac(token.sessionId, token.generation, salt);
    return token.mac.length === expected.length && timingSafeEqual(token.mac, expected);
  }

  private mac(sessionId: string, generation: number, salt: string): Buffer {
    return createHmac("sha256", this.key).update(`${sessionId}.${generation}.${salt}`).digest();
  }
}
