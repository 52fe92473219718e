/**
 * Registration and login: scrypt password hashes (through the process's `PasswordHasher`), the abuse
 * controls of both (`AccountLimits`), and a new session with its tokens.
 */
import type { z } from "zod";

import { InvalidCredentialsError, UsernameTakenError } from "@parley/shared/errors";
import { isDuplicateKeyError, toPublicUser, type Models, type UserDoc } from "@parley/shared/models";
import type { AuthSession, LoginBody, RegisterBody } from "@parley/protocol";

import type { AccountLimits } from "./account-limits.js";
import type { PasswordHasher } from "./password-hasher.js";
import type { ClientInfo as SessionClientInfo, Sessions } from "./sessions.js";

/** What the account functions need. */
export interface AccountDeps {
  models: Pick<Models, "User">;
  sessions: Sessions;
  /** Every password hash goes through it, under the process's bound. */
  hasher: PasswordHasher;
  /** The rate limits of logins and registrations. */
  limits: AccountLimits;
}

/** Who sends a register or login request. */
export interface ClientInfo extends SessionClientInfo {
  /** The client's address as the limits key it (`clientAddress`). */
  address: string;
}

/**
 * Creates a user and a first session. Usernames are unique regardless of case; the display name
 * defaults to the username. The client's address counts as one the user logged in from.
 * @throws {UsernameTakenError} when the username (in any case) is registered already.
 * @throws {RateLimitedError} when the address's `register` bucket is empty.
 * @throws {UnavailableError} when the hasher is at capacity, or the limiter cannot reach Redis.
 */
export async function register(deps: AccountDeps, input: z.output<typeof RegisterBody>, client: ClientInfo): Promise<AuthSession> {
  await deps.limits.beforeRegistration(client.address);
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
  await deps.limits.succeeded(user._id.toHexString(), client.address);
  return openSession(deps, user, input.device, client);
}

/**
 * Checks a username (any case) and password, after the limits of `AccountLimits` (in its order), and
 * opens a session.
 * @throws {InvalidCredentialsError} for an unknown user or a wrong password, which take the same time.
 * @throws {RateLimitedError} when one of the login buckets is empty; right or wrong, every attempt counts.
 * @throws {UnavailableError} when the hasher is at capacity, or the limiter cannot reach Redis.
 */
export async function login(deps: AccountDeps, input: z.output<typeof LoginBody>, client: ClientInfo): Promise<AuthSession> {
  await deps.limits.beforeLogin(client.address, input.username);
  const found = await deps.models.User.findOne({ usernameLower: input.username.toLowerCase() }).lean<UserDoc>().exec();
  const user = found && !found.deletedAt ? found : null;
  await deps.limits.forAccount(input.username, user?._id.toHexString(), client.address);
  const valid = user ? await deps.hasher.verify(input.password, user.passwordHash) : await deps.hasher.verifyNone(input.password);
  if (!user || !valid) throw new InvalidCredentialsError("Wrong username or password");
  await deps.limits.succeeded(user._id.toHexString(), client.address);
  return openSession(deps, user, input.device, client);
}

async function openSession(deps: AccountDeps, user: UserDoc, device: string | undefined, client: ClientInfo): Promise<AuthSession> {
  return { user: toPublicUser(user), ...(await deps.sessions.create(user._id, { device, userAgent: client.userAgent })) };
}
