/**
 * Access tokens (HS256 JWTs, algorithm pinned) and password hashing (scrypt).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from "node:crypto";

import jwt from "jsonwebtoken";

import { AuthError } from "./errors.js";
import { ObjectIdString } from "@parley/protocol";

const ALGORITHM = "HS256";

/** What an access token says, once verified. */
export interface AccessClaims {
  userId: string;
  /** The session (logged-in device) the token belongs to: revoking it revokes the token. */
  sessionId: string;
  /** The token's own id. */
  tokenId: string;
  /** When the token was issued and when it expires (ms since the epoch, to the second). */
  issuedAt: number;
  expiresAt: number;
}

/** A freshly signed access token. */
export interface SignedAccessToken {
  token: string;
  /** When it expires (ms since the epoch, to the second). */
  expiresAt: number;
}

/**
 * Signs an access token of `userId`'s session `sessionId`, valid for `expiresInSeconds`, with a random
 * token id (`jti`).
 */
export function signAccessToken(
  { userId, sessionId }: { userId: string; sessionId: string },
  secret: string,
  expiresInSeconds: number,
  now = Date.now(),
): SignedAccessToken {
  const issuedAt = Math.floor(now / 1000);
  const token = jwt.sign({ sid: sessionId, iat: issuedAt }, secret, {
    algorithm: ALGORITHM,
    subject: userId,
    expiresIn: expiresInSeconds,
    jwtid: randomBytes(12).toString("base64url"),
  });
  return { token, expiresAt: (issuedAt + expiresInSeconds) * 1000 };
}

/**
 * Verifies an access token and returns its claims. Only HS256 is accepted (no `none`, no key
 * confusion), expiry is enforced, and the token must name a user and a session. Revocation is checked
 * elsewhere (`SessionRevocations`): this is the signature only.
 *
 * @throws {AuthError} `AUTH_REQUIRED` for a missing token, `TOKEN_EXPIRED` for an expired one and
 * `INVALID_TOKEN` for anything else.
 */
export function verifyAccessToken(token: unknown, secret: string): AccessClaims {
  if (token === undefined || token === null || token === "") {
    throw new AuthError("AUTH_REQUIRED", "An access token is required");
  }
  if (typeof token !== "string") throw new AuthError("INVALID_TOKEN", "The access token must be a string");
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secret, { algorithms: [ALGORITHM] });
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw new AuthError("TOKEN_EXPIRED", "The access token has expired");
    throw new AuthError("INVALID_TOKEN", "The access token is invalid");
  }
  if (typeof payload !== "object") throw new AuthError("INVALID_TOKEN", "The access token is invalid");
  const { sub, sid, jti, iat, exp } = payload as jwt.JwtPayload & { sid?: unknown };
  if (!ObjectIdString.safeParse(sub).success) throw new AuthError("INVALID_TOKEN", "The access token names no user");
  if (!ObjectIdString.safeParse(sid).success) throw new AuthError("INVALID_TOKEN", "The access token names no session");
  if (typeof jti !== "string" || typeof iat !== "number" || typeof exp !== "number") {
    throw new AuthError("INVALID_TOKEN", "The access token is invalid");
  }
  return { userId: sub as string, sessionId: sid as string, tokenId: jti, issuedAt: iat * 1000, expiresAt: exp * 1000 };
}

/** scrypt cost: N = 2^15 takes ~50 ms and 32 MiB per hash, OWASP's recommended floor. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password as `scrypt$N$r$p$<salt b64>$<key b64>`, so the cost can rise without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64"), key.toString("base64")].join("$");
}

/** Checks a password against a {@link hashPassword} hash, in constant time. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = hash.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await scrypt(password, Buffer.from(salt, "base64"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as {@link verifyPassword} on a hash of no real password, so that a login for an
 * unknown user cannot be told from a wrong password by its timing.
 */
export async function verifyNoPassword(password: string): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
  await verifyPassword(password, await dummyHash);
  return false;
}
