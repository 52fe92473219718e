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

/**
 * Tells every gateway that sessions were revoked: each ends its sockets of those sessions with
 * `session:ended` and disconnects them. One message to the gateways rather than an emit and a
 * `disconnectSockets` to the sessions' rooms, which travel on different channels, so that the sockets
 * always hear why before they are cut.
 */
export function revokeOnGateways(emitter: ParleyEmitter, payload: Parameters<InterServerEvents["session:revoke"]>[0]): void {
  emitter.serverSideEmit("session:revoke", payload);
}
