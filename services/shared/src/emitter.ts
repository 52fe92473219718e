/**
 * The Socket.IO Redis emitter, typed by the protocol: how the API and the worker reach live sockets on
 * every gateway (`emitter.to(room).emit(…)`, `emitter.in(room).socketsJoin(…)`) without calling one.
 */
import { Emitter } from "@socket.io/redis-emitter";

import type { ServerToClientEvents } from "@parley/protocol";
import type { InterServerEvents } from "./events.js";
import type { Logger } from "./logger.js";
import type { RedisClient } from "./redis.js";

export type ParleyEmitter = Emitter<ServerToClientEvents>;

/**
 * An emitter publishing on `redis`.
 *
 * The emitter calls `publish` without handling the promise it returns, so while Redis is unreachable
 * every emit would become an unhandled rejection, which ends the process. It is given a publish-only
 * view of the client that logs the failure instead: emits are fire-and-forget, and clients recover what
 * they missed with `sync` when they reconnect.
 */
export function createEmitter(redis: RedisClient, log: Logger): ParleyEmitter {
  const publisher = {
    publish: (channel: string, message: string | Buffer) =>
      redis.publish(channel, message).catch((err: unknown) => {
        log.error({ err, channel }, "emitter publish failed");
        return 0;
      }),
  };
  return new Emitter<ServerToClientEvents>(publisher);
}

/** When a publish that failed is tried again: 1 s, then twice as long each time up to 30 s, for 5 minutes. */
const REPUBLISH = { firstDelayMs: 1000, maxDelayMs: 30_000, giveUpAfterMs: 5 * 60_000 };

/** An emitter that publishes again what Redis refused, and what stops its retries. */
export interface RetryingEmitter {
  emitter: ParleyEmitter;
  /** Publishes still waiting for a retry, for metrics and tests. */
  pending(): number;
  /** Drops the retries still waiting (their clients learn the news at their next `sync`). */
  stop(): void;
}

/**
 * An emitter on `redis` whose publishes that fail (Redis unreachable) are published again, the same
 * packet, after 1 s, 2 s, 4 s… up to 30 s apart, until they go through or 5 minutes have passed; each
 * failure is logged once, the giving up as an error. For news a client cannot get otherwise while its
 * socket stays up: the worker's `message:persisted`. A packet published late arrives after newer ones:
 * only events that say the same thing whenever they arrive belong on it.
 */
export function createRetryingEmitter(redis: RedisClient, log: Logger): RetryingEmitter {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const publish = (channel: string, message: string | Buffer, firstFailedAt: number | undefined, delayMs: number): Promise<number> =>
    redis.publish(channel, message).catch((err: unknown) => {
      const failedAt = firstFailedAt ?? Date.now();
      if (firstFailedAt === undefined) log.warn({ err, channel }, "emitter publish failed; it will be published again");
      if (stopped) return 0;
      if (Date.now() - failedAt >= REPUBLISH.giveUpAfterMs) {
        log.error({ err, channel }, "emitter publish dropped after retrying for 5 minutes");
        return 0;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        void publish(channel, message, failedAt, Math.min(REPUBLISH.maxDelayMs, delayMs * 2));
      }, delayMs);
      timer.unref();
      timers.add(timer);
      return 0;
    });
  const emitter = new Emitter<ServerToClientEvents>({
    publish: (channel: string, message: string | Buffer) => publish(channel, message, undefined, REPUBLISH.firstDelayMs),
  });
  return {
    emitter,
    pending: () => timers.size,
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/**
 * Tells every gateway that sessions were revoked: each ends its sockets of those sessions with
 * `session:ended` and disconnects them. One message to the gateways rather than an emit and a
 * `disconnectSockets` to the sessions' rooms, which travel on different channels, so that the sockets
 * always hear why before they are cut.
 */
export function revokeOnGateways(emitter: ParleyEmitter, payload: Parameters<InterServerEvents["session:revoke"]>[0]): void {
  emitter.serverSideEmit("session:revoke", payload);
}
