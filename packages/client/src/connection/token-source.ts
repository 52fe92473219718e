/**
 * The app's token provider, single-flight: concurrent callers share one call, and a result that
 * arrives after a newer call was started, or after the client was disposed, is never used.
 */
import { ParleyError, toParleyError } from "../errors.js";
import type { TokenHint } from "../rest.js";

/**
 * The app's token provider: resolves with an access token, or throws (a {@link ParleyError} that is not
 * retryable, to stop). When the server refused a token as expired, the SDK names it in `hint.expired`:
 * answer a newer one. A provider that takes no argument works too (`createSessionAuth().getToken` takes it).
 */
export type TokenProvider = (hint?: TokenHint) => Promise<string>;

/** A single-flight view of a {@link TokenProvider}. */
export interface TokenSource {
  /** A token: the call in flight, or a new one. */
  get(): Promise<string>;
  /**
   * The server refused `expired` as expired: the next call tells the provider so, and a call in flight
   * (which may answer that same token) is superseded: its callers get the new call's result.
   */
  invalidate(expired: string | undefined): void;
  /** Every later or pending result is dropped. */
  dispose(): void;
}

/** The error of calls on a disposed client. */
export class DisposedError extends Error {
  constructor() {
    super("The parley client is disposed");
    this.name = "DisposedError";
  }
}

/** A {@link TokenSource} on `provider`. */
export function createTokenSource(provider: TokenProvider): TokenSource {
  let inflight: Promise<string> | undefined;
  let generation = 0;
  let disposed = false;
  let expired: string | undefined;

  const start = (): Promise<string> => {
    const mine = ++generation;
    const hint = expired === undefined ? undefined : { expired };
    expired = undefined;
    const call: Promise<string> = Promise.resolve()
      .then(() => provider(hint))
      .then(
        (token) => {
          if (disposed) throw new DisposedError();
          // Superseded by invalidate(): take the newer call's answer instead.
          if (mine !== generation) return get();
          if (typeof token !== "string" || token.length === 0) {
            throw new ParleyError({ code: "AUTH_REQUIRED", message: "getToken resolved without a token" });
          }
          return token;
        },
        (err: unknown) => {
          if (disposed) throw new DisposedError();
          if (mine !== generation) return get();
          throw toParleyError(err);
        },
      )
      .finally(() => {
        if (inflight === call) inflight = undefined;
      });
    inflight = call;
    return call;
  };

  function get(): Promise<string> {
    if (disposed) return Promise.reject(new DisposedError());
    return inflight ?? start();
  }

  return {
    get,
    invalidate(token) {
      if (disposed) return;
      expired = token;
      if (inflight) void start().catch(() => {});
    },
    dispose() {
      disposed = true;
      inflight = undefined;
    },
  };
}
