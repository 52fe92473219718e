/**
 * Requests with an acknowledgement, as promises of their result: `{ ok: false, error }` and silence
 * both become a {@link ParleyError}.
 */
import type { ClientToServerEvents, EventPayload, EventResult } from "@parley/protocol";

import { ParleyError } from "../errors.js";
import { NoAnswerError, type ClientSocket } from "./socket.js";

/** Acknowledgement timeout of every request, in milliseconds. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/** Sends `event` and resolves with the acknowledged result, or rejects with a {@link ParleyError}. */
export type Requester = <E extends keyof ClientToServerEvents>(event: E, payload: EventPayload<E>) => Promise<EventResult<E>>;

/**
 * A {@link Requester} on `socket`. A request without an answer (not connected, timeout, disconnect)
 * rejects with a retryable `UNAVAILABLE` whose `cause` is a {@link NoAnswerError} (see {@link isNoAnswer}).
 */
export function createRequester(socket: ClientSocket, timeoutMs: number): Requester {
  return async (event, payload) => {
    let res;
    try {
      res = await socket.request(event, payload, timeoutMs);
    } catch (err) {
      throw noAnswer(err);
    }
    if (!res.ok) throw new ParleyError(res.error);
    return res;
  };
}

/** A retryable `UNAVAILABLE` for a request that got no answer. */
export function noAnswer(err: unknown): ParleyError {
  const cause = err instanceof NoAnswerError ? err : new NoAnswerError("disconnected");
  return new ParleyError({ code: "UNAVAILABLE", message: `No answer from the server: ${cause.message}` }, { cause });
}

/** Whether `err` is a request that got no answer (it may have reached the server, or not). */
export function isNoAnswer(err: unknown): boolean {
  return err instanceof ParleyError && err.cause instanceof NoAnswerError;
}
