/**
 * The gateway's Prometheus metrics, on a registry the caller owns (`index.ts` serves the process's
 * registry on `METRICS_PORT`; tests give each gateway one of its own). Label values come from fixed
 * sets only: event names, wire error codes, rate-limit actions, Socket.IO's disconnect reasons.
 *
 * The recorders never throw: they run inside event handlers and the adapter's fan-out.
 */
import type { DisconnectReason } from "socket.io";

import type { ClientToServerEvents, ErrorCode } from "@parley/protocol";
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, redisErrorsCounter, type Registry } from "@parley/shared/metrics";

import { EVENT_ACTIONS, type EventRateAction } from "./limits/event-limits.js";

/** How a client event ended: `ok`, or the wire code of the error it was answered with. */
export type EventOutcome = "ok" | ErrorCode;

/** A client event's name. */
export type ClientEvent = keyof ClientToServerEvents;

/** Every metric a gateway records, and the recorders the rest of the gateway calls. */
export class GatewayMetrics {
  /** `parley_gateway_connected_sockets`: sockets connected to this node right now. */
  readonly connectedSockets: Gauge;
  /** `parley_gateway_connections_total`: sockets that passed the handshake. */
  readonly connections: Counter;
  /** `parley_gateway_disconnections_total{reason}`: by Socket.IO's disconnect reason. */
  readonly disconnections: Counter<"reason">;
  /** `parley_gateway_events_received_total{event,outcome}`: every client event, once answered. */
  readonly eventsReceived: Counter<"event" | "outcome">;
  /** `parley_gateway_ack_duration_seconds{event}`: from receiving an event to answering it. */
  readonly ackDuration: Histogram<"event">;
  /**
   * `parley_gateway_delivery_latency_seconds`: from a message's `createdAt` (set by the node or the API
   * that accepted it) to the emit of its `message:new` on the node whose sockets receive it.
   */
  readonly deliveryLatency: Histogram;
  /** `parley_gateway_rate_limited_total{action}`: events refused by the rate limiter, by bucket. */
  readonly rateLimited: Counter<"action">;
  /** `parley_redis_errors_total{client}`: pass to `createRedis` as `errors`. */
  readonly redisErrors: Counter<"client">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connectedSockets = new Gauge({
      name: "parley_gateway_connected_sockets",
      help: "Sockets connected to this gateway.",
      registers,
    });
    this.connections = new Counter({
      name: "parley_gateway_connections_total",
      help: "Sockets that passed the handshake.",
      registers,
    });
    this.disconnections = new Counter({
      name: "parley_gateway_disconnections_total",
      help: "Socket disconnections, by Socket.IO disconnect reason.",
      labelNames: ["reason"],
      registers,
    });
    this.eventsReceived = new Counter({
      name: "parley_gateway_events_received_total",
      help: "Client events handled, by event and outcome (ok, or the error code answered).",
      labelNames: ["event", "outcome"],
      registers,
    });
    this.ackDuration = new Histogram({
      name: "parley_gateway_ack_duration_seconds",
      help: "Time from receiving a client event to answering it, by event.",
      labelNames: ["event"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: "parley_gateway_delivery_latency_seconds",
      help: "Time from a message's server timestamp to its message:new emit on the receiving gateway.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rateLimited = new Counter({
      name: "parley_gateway_rate_limited_total",
      help: "Client events refused by the rate limiter, by rate-limit action.",
      labelNames: ["action"],
      registers,
    });
    this.redisErrors = redisErrorsCounter(registry);
    // Zero from the start, so that the first refusal is an increase that rate() can see.
    for (const action of new Set(Object.values(EVENT_ACTIONS))) this.rateLimited.inc({ action }, 0);
  }

  /** A socket passed the handshake. */
  socketConnected(): void {
    this.connections.inc();
    this.connectedSockets.inc();
  }

  /** A connected socket is gone. */
  socketDisconnected(reason: DisconnectReason): void {
    this.disconnections.inc({ reason });
    this.connectedSockets.dec();
  }

  /** A client event was answered `seconds` after it was received. */
  eventAnswered(event: ClientEvent, outcome: EventOutcome, seconds: number): void {
    this.eventsReceived.inc({ event, outcome });
    if (Number.isFinite(seconds)) this.ackDuration.observe({ event }, Math.max(0, seconds));
  }

  /** The rate limiter refused an event of `action`'s bucket. */
  eventRateLimited(action: EventRateAction): void {
    this.rateLimited.inc({ action });
  }

  /**
   * A `message:new` created at `createdAt` (ISO time) is being emitted to this node's sockets. The two
   * clocks are different machines' when the message came through Redis: a skew that would make the
   * latency negative counts as 0.
   */
  messageDelivered(createdAt: unknown, now = Date.now()): void {
    const created = typeof createdAt === "string" ? Date.parse(createdAt) : Number.NaN;
    if (Number.isFinite(created)) this.deliveryLatency.observe(Math.max(0, now - created) / 1000);
  }
}
