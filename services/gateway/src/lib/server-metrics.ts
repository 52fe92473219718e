/**
 * Metrics taken from the Socket.IO server itself rather than from a feature: socket counts, and the
 * delivery latency of every `message:new` fan-out, measured in the adapter.
 */
import type { Logger } from "@parley/shared/logger";

import type { GatewayMetrics } from "../metrics.js";
import type { GatewayServer } from "./types.js";

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;

/** The part of socket.io-adapter's in-memory adapter that every broadcast goes through. */
interface EncodingAdapter {
  _encode(packet: { type?: unknown; data?: unknown }, packetOptions: unknown): unknown;
}

/** Counts connections and disconnections, and measures every `message:new` fan-out on this node. */
export function instrumentServer(io: GatewayServer, metrics: GatewayMetrics, log: Logger): void {
  io.on("connection", (socket) => {
    metrics.socketConnected();
    socket.on("disconnect", (reason) => metrics.socketDisconnected(reason));
  });
  observeDeliveries(io, metrics, log);
}

/**
 * Wraps the main namespace adapter's `_encode`. The in-memory adapter's `broadcast` encodes each packet
 * once before writing it to the local sockets, and the Redis adapter runs that same `broadcast` both for
 * an emit made on this node and for one received from Redis (another gateway, or the API's and the
 * worker's emitter). So `_encode` sees every fan-out on every node, once per node, at the moment of
 * the emit. A node receives a room's broadcasts from Redis only while it has sockets in the room; the
 * node that accepted a message measures it too, since the sender's socket is in the room.
 */
function observeDeliveries(io: GatewayServer, metrics: GatewayMetrics, log: Logger): void {
  const adapter = io.of("/").adapter as unknown as Partial<EncodingAdapter>;
  const encode = adapter._encode;
  if (typeof encode !== "function") {
    log.warn("the Socket.IO adapter has no _encode: parley_gateway_delivery_latency_seconds is not measured");
    return;
  }
  adapter._encode = function (this: EncodingAdapter, packet, packetOptions) {
    try {
      if (packet.type === EVENT_PACKET && Array.isArray(packet.data) && packet.data[0] === "message:new") {
        metrics.messageDelivered((packet.data[1] as { createdAt?: unknown } | undefined)?.createdAt);
      }
    } catch (err) {
      log.warn({ err }, "delivery latency not recorded");
    }
    return encode.call(this, packet, packetOptions);
  };
}
