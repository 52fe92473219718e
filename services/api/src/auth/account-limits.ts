/**
 * The abuse controls of logins and registrations, on the cluster-wide buckets of `RateLimiter`.
 *
 * A login attempt, right or wrong, takes in this order:
 * 1. a `login-pair` token (client address and username) and a `login-address` token (client address),
 *    before anything else: guessing one account from one address, and spraying many usernames from
 *    one address, are both refused before any database read or hash;
 * 2. after the user lookup, a `login` token (username, from every address together), unless the user
 *    logged in from this address before ({@link KnownAddresses}): guesses from many addresses are
 *    bounded, yet never lock the owner out where they usually log in.
 *
 * Unknown usernames take the `login` token too, so that refusals do not tell which usernames exist.
 * A registration takes a `register` token (client address) before its hash. A logged-in user's
 * password check (password change, account deletion) takes a `login` token of their username, with no
 * address exempt.
 */
import type { Logger } from "@parley/shared/logger";
import { addressSubject, loginPairSubject, loginSubject, type RateLimiter } from "@parley/shared/rate-limit";

import type { KnownAddresses } from "./known-addresses.js";

/** What {@link AccountLimits} needs. */
export interface AccountLimitsOptions {
  limiter: RateLimiter;
  known: KnownAddresses;
  log: Logger;
  /**
   * How long a known-address lookup or record may wait for Redis, in milliseconds; an address that
   * cannot be looked up in time counts as new.
   * @default 1000
   */
  timeoutMs?: number;
}

/** Where each check of a login or a registration goes; see the module comment. */
export class AccountLimits {
  constructor(private readonly options: AccountLimitsOptions) {}

  /**
   * Step 1 of a login: the `login-pair` and `login-address` buckets.
   * @throws {RateLimitedError} when either is empty.
   * @throws {UnavailableError} when Redis cannot answer (logins fail closed).
   */
  async beforeLogin(address: string, username: string): Promise<void> {
    const { limiter } = this.options;
    await limiter.check(loginPairSubject(address, username), "login-pair");
    await limiter.check(addressSubject(address), "login-address");
  }

  /**
   * Step 2 of a login, after the lookup: the `login` bucket of `username`, unless `userId` (undefined
   * for an unknown username) logged in from `address` before.
   * @throws {RateLimitedError} when the bucket is empty.
   * @throws {UnavailableError} when Redis cannot answer.
   */
  async forAccount(username: string, userId: string | undefined, address: string): Promise<void> {
    const { limiter } = this.options;
    if (!limiter.enabled) return;
    if (userId !== undefined && (await this.isKnown(userId, address))) return;
    await limiter.check(loginSubject(username), "login");
  }

  /**
   * A registration's `register` bucket.
   * @throws {RateLimitedError} when it is empty.
   * @throws {UnavailableError} when Redis cannot answer.
   */
  async beforeRegistration(address: string): Promise<void> {
    await this.options.limiter.check(addressSubject(address), "register");
  }

  /**
   * Before a logged-in user's password is checked (a password change, an account's deletion): a
   * `login` token of their username, whatever the address, so that someone holding a stolen access
   * token cannot guess the password any faster than by logging in.
   * @throws {RateLimitedError} when the bucket is empty.
   * @throws {UnavailableError} when Redis cannot answer.
   */
  async beforePasswordCheck(username: string): Promise<void> {
    await this.options.limiter.check(loginSubject(username), "login");
  }

  /** Records that `userId` logged in (or registered) from `address`. Never throws: a failure is logged. */
  async succeeded(userId: string, address: string): Promise<void> {
    if (!this.options.limiter.enabled) return;
    try {
      await this.withTimeout(this.options.known.remember(userId, address));
    } catch (err) {
      this.options.log.warn({ err }, "could not record a login address; the next login from it takes a per-username token");
    }
  }

  private async isKnown(userId: string, address: string): Promise<boolean> {
    try {
      return await this.withTimeout(this.options.known.has(userId, address));
    } catch (err) {
      this.options.log.warn({ err }, "could not look up a login address; treating it as new");
      return false;
    }
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}
