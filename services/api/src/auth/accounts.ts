/** Registration and login: scrypt password hashes (through the process's `PasswordHasher`), HS256 access tokens. */
import { Types } from "mongoose";
import type { z } from "zod";

import { signAccessToken } from "@parley/shared/auth";
import { InvalidCredentialsError, UsernameTakenError } from "@parley/shared/errors";
import { isDuplicateKeyError, toPublicUser, type Models, type UserDoc } from "@parley/shared/models";
import type { LoginBody, PublicUser, RegisterBody } from "@parley/shared/schemas";

import type { PasswordHasher } from "./password-hasher.js";

/** What register and login answer. */
export interface Session {
  user: PublicUser;
  /** Access token for `Authorization: Bearer`. */
  token: string;
}

/** What the account functions need. */
export interface AccountDeps {
  models: Pick<Models, "User">;
  jwtSecret: string;
  /** Lifetime of issued tokens, in seconds. */
  tokenTtlSeconds: number;
  /** Every password hash goes through it, under the process's bound. */
  hasher: PasswordHasher;
}

/**
 * Creates a user. Usernames are unique regardless of case; the display name defaults to the username.
 * @throws {UsernameTakenError} when the username (in any case) is registered already.
 * @throws {UnavailableError} when the hasher is at capacity.
 */
export async function register(deps: AccountDeps, input: z.output<typeof RegisterBody>): Promise<Session> {
  const passwordHash = await deps.hasher.hash(input.password);
  let user: UserDoc;
  try {
    const created = await deps.models.User.create({
      username: input.username,
      usernameLower: input.username.toLowerCase(),
      displayName: input.displayName ?? input.username,
      passwordHash,
    });
    user = created.toObject();
  } catch (err) {
    if (isDuplicateKeyError(err)) throw new UsernameTakenError("That username is taken");
    throw err;
  }
  return session(deps, user);
}

/**
 * Checks a username (any case) and password.
 * @throws {InvalidCredentialsError} for an unknown user or a wrong password, which take the same time.
 * @throws {UnavailableError} when the hasher is at capacity.
 */
export async function login(deps: AccountDeps, input: z.output<typeof LoginBody>): Promise<Session> {
  const user = await deps.models.User.findOne({ usernameLower: input.username.toLowerCase() }).lean<UserDoc>().exec();
  const valid = user ? await deps.hasher.verify(input.password, user.passwordHash) : await deps.hasher.verifyNone(input.password);
  if (!user || !valid) throw new InvalidCredentialsError("Wrong username or password");
  return session(deps, user);
}

function session(deps: AccountDeps, user: UserDoc): Session {
  const id = user._id.toHexString();
  const sessionId = new Types.ObjectId().toHexString();
  return { user: toPublicUser(user), token: signAccessToken({ userId: id, sessionId }, deps.jwtSecret, deps.tokenTtlSeconds).token };
}
