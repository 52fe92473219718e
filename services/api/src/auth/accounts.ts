/** Registration and login: scrypt password hashes, and a new session with its tokens. */
import type { z } from "zod";

import { hashPassword, verifyNoPassword, verifyPassword } from "@parley/shared/auth";
import { InvalidCredentialsError, UsernameTakenError } from "@parley/shared/errors";
import { isDuplicateKeyError, toPublicUser, type Models, type UserDoc } from "@parley/shared/models";
import type { AuthSession, LoginBody, RegisterBody } from "@parley/shared/schemas";

import type { ClientInfo, Sessions } from "./sessions.js";

/** What the account functions need. */
export interface AccountDeps {
  models: Pick<Models, "User">;
  sessions: Sessions;
}

/**
 * Creates a user and a first session. Usernames are unique regardless of case; the display name
 * defaults to the username.
 * @throws {UsernameTakenError} when the username (in any case) is registered already.
 */
export async function register(deps: AccountDeps, input: z.output<typeof RegisterBody>, client: ClientInfo = {}): Promise<AuthSession> {
  const passwordHash = await hashPassword(input.password);
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
  return { user: toPublicUser(user), ...(await deps.sessions.create(user._id, { device: input.device, ...client })) };
}

/**
 * Checks a username (any case) and password, and opens a session.
 * @throws {InvalidCredentialsError} for an unknown user or a wrong password, which take the same time.
 */
export async function login(deps: AccountDeps, input: z.output<typeof LoginBody>, client: ClientInfo = {}): Promise<AuthSession> {
  const user = await deps.models.User.findOne({ usernameLower: input.username.toLowerCase() }).lean<UserDoc>().exec();
  const valid = user && !user.deletedAt ? await verifyPassword(input.password, user.passwordHash) : await verifyNoPassword(input.password);
  if (!user || !valid) throw new InvalidCredentialsError("Wrong username or password");
  return { user: toPublicUser(user), ...(await deps.sessions.create(user._id, { device: input.device, ...client })) };
}
