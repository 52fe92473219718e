/**
 * `session:expiring` → a new token from the provider → `auth:refresh`, retried with backoff until the
 * socket's token expires. Each run belongs to one warning of one socket: a token that arrives after the
 * socket went away, or after a newer warning, is dropped.
 */
import type { ParleyError } from "../errors.js";
import { toParleyError } from "../errors.js";
import { backoffDelay } from "../lib/backoff.js";
import type { Logger } from "../lib/logger.js";
import type { Timers } from "../lib/timers.js";
import type { Requester } from "../transport/requests.js";
import { DisposedError, type TokenSource } from "./token-source.js";

/** Backoff of `auth:refresh` retries. */
const REFRESH_BACKOFF = { baseMs: 1000, maxMs: 15_000 };

/** What the refresher needs. */
export interface SessionRefresherDeps {
  tokens: TokenSource;
  timers: Timers;
  logger: Logger;
  random: () => number;
  /** The provider refused for good (a {@link ParleyError} that is not retryable): the user must act. */
  fail: (error: ParleyError) => void;
  /** The server refused the token for this socket (another session): reconnect with it instead. */
  reconnect: (error: ParleyError) => void;
}

/** Keeps a live socket's session going across token expiries. */
export class SessionRefresher {
  private run = 0;
  private cancelWait: (() => void) | undefined;
  private request: Requester | undefined;

  constructor(private readonly deps: SessionRefresherDeps) {}

  /** Sets how `auth:refresh` is sent. */
  bind(request: Requester): void {
    this.request = request;
  }

  /** Starts refreshing for a socket whose token expires at `expiresAt` (ISO). */
  start(expiresAt: string): void {
    this.stop();
    void this.loop(++this.run, Date.parse(expiresAt));
  }

  /** Stops the current run (the socket went away). */
  stop(): void {
    this.run++;
    this.cancelWait?.();
    this.cancelWait = undefined;
  }

  private async loop(run: number, expiresAt: number): Promise<void> {
    for (let attempt = 0; run === this.run; attempt++) {
      let token: string | undefined;
      try {
        token = await this.deps.tokens.get();
        if (run !== this.run || !this.request) return;
        const { expiresAt: next } = await this.request("auth:refresh", { token });
        if (run !== this.run) return;
        if (Date.parse(next) > expiresAt) return;
        // The provider gave a token that expires no later: next time, tell it to refresh.
        this.deps.tokens.invalidate(token);
      } catch (err) {
        if (run !== this.run || err instanceof DisposedError) return;
        const error = toParleyError(err);
        if (error.code === "FORBIDDEN") return this.deps.reconnect(error);
        if (error.code === "TOKEN_EXPIRED") this.deps.tokens.invalidate(token);
        else if (!error.retryable) return this.deps.fail(error);
        this.deps.logger.debug("parley: auth:refresh failed, retrying", error);
      }
      const wait = backoffDelay(attempt, REFRESH_BACKOFF, this.deps.random);
      // Past the expiry the server ends the session (TOKEN_EXPIRED) and the connection reconnects.
      if (Date.now() + wait >= expiresAt) return;
      await new Promise<void>((resolve) => (this.cancelWait = this.deps.timers.set(resolve, wait)));
    }
  }
}
