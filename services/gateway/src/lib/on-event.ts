/**
 * The one way a gateway handles a client event: take from the user's rate-limit bucket for the event,
 * validate the payload with the event's schema, run the handler, and answer. Success is
 * `{ ok: true, …result }`; failure is `{ ok: false, error }` on the ack, or an `error` event when the
 * client sent no ack callback. A handler can never crash the process.
 */
import type { z } from "zod";

import { clientEventSchemas, type AckResponse, type ClientToServerEvents, type EventResult } from "@parley/protocol";
import { AppError, RateLimitedError, logFailure, toWireError } from "@parley/shared/errors";
import type { Logger } from "@parley/shared/logger";
import { Registry } from "@parley/shared/metrics";
import { parseInput } from "@parley/shared/schemas";

import type { RateLimiter } from "@parley/shared/rate-limit";

import { EVENT_ACTIONS } from "../limits/event-limits.js";
import { GatewayMetrics } from "../metrics.js";
import type { GatewaySocket } from "./types.js";

/** The validated payload a handler of event `E` receives. */
export type ParsedPayload<E extends keyof ClientToServerEvents> = z.output<(typeof clientEventSchemas)[E]>;

/** Handles event `E` of any socket: `socket` is the one that sent it. */
export type EventHandler<E extends keyof ClientToServerEvents> = (socket: GatewaySocket, payload: ParsedPayload<E>) => Promise<EventResult<E>>;

/** Registers the handler of `event`, for every socket, through the gateway's limits, validation and answers. */
export type OnEvent = <E extends keyof ClientToServerEvents>(event: E, handler: EventHandler<E>) => void;

export interface EventDispatcher {
  onEvent: OnEvent;
  /** Routes the events of a new socket to the registered handlers. */
  attach(socket: GatewaySocket): void;
}

export interface OnEventDeps {
  log: Logger;
  /** Every event first takes a token from its user's bucket for the event's action. */
  limiter: RateLimiter;
  /**
   * Where every answered event is counted (`events_received`, `ack_duration`, `rate_limited`).
   * @default metrics on a registry of their own, which nothing serves
   */
  metrics?: GatewayMetrics;
}

type AnyHandler = (socket: GatewaySocket, payload: unknown) => Promise<object>;

/**
 * The gateway's event dispatcher. A refused event (`RATE_LIMITED` with `retryAfterMs`) is answered
 * before its payload is validated and never reaches the handler. Events without a handler are ignored,
 * as Socket.IO ignores events without a listener.
 *
 * Handlers are registered once for all sockets, and a socket holds a single catch-all listener: no
 * listener and closure scope per event and socket, which with a dozen and a half events cost about
 * 4 KB of heap per connected socket (`npm run bench -- --heap-snapshots`).
 */
export function createEventDispatcher({ log, limiter, metrics = new GatewayMetrics(new Registry()) }: OnEventDeps): EventDispatcher {
  const handlers = new Map<string, AnyHandler>();

  const dispatch = (socket: GatewaySocket, event: keyof ClientToServerEvents, args: unknown[]) => {
    const handler = handlers.get(event);
    if (!handler) return;
    const received = performance.now();
    const ack = typeof args.at(-1) === "function" ? (args.pop() as (response: AckResponse<object>) => void) : undefined;
    const respond = (response: AckResponse<object>) => {
      try {
        if (ack) ack(response);
        else if (!response.ok) socket.emit("error", { ...response.error, event });
      } finally {
        metrics.eventAnswered(event, response.ok ? "ok" : response.error.code, (performance.now() - received) / 1000);
      }
    };
    const action = EVENT_ACTIONS[event];
    limiter
      .check(socket.data.userId, action)
      .catch((err: unknown) => {
        if (err instanceof RateLimitedError) metrics.eventRateLimited(action);
        throw err;
      })
      .then(() => handler(socket, parseInput(clientEventSchemas[event], args[0], `${event} payload`)))
      .then(
        (result) => respond({ ok: true, ...result }),
        (err: unknown) => {
          if (err instanceof AppError) log.debug({ event, code: err.code, socketId: socket.id }, err.message);
          else logFailure(log, err, { event, socketId: socket.id, userId: socket.data.userId }, "event handler failed");
          respond({ ok: false, error: toWireError(err) });
        },
      )
      .catch((err: unknown) => log.error({ err, event }, "answering an event failed"));
  };

  return {
    onEvent(event, handler) {
      if (handlers.has(event)) throw new Error(`${event} has a handler already`);
      handlers.set(event, handler as AnyHandler);
    },
    attach(socket) {
      // Socket.IO passes the payload and the ack positionally, after the event's name.
      socket.onAny((event: keyof ClientToServerEvents, ...args: unknown[]) => dispatch(socket, event, args));
    },
  };
}
