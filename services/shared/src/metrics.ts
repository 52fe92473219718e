/**
 * Prometheus metrics: one registry per service with Node's default metrics, served on an internal port
 * (`METRICS_PORT`) that nginx never routes.
 *
 * Naming: `parley_<subsystem>_<name>_<unit>`, base units (`_seconds`, `_bytes`), counters end in
 * `_total`. Label values come from small fixed sets (event names, error codes, reasons), never from
 * users, conversations or sockets. Every series carries `node` (the process), set as a default label.
 */
import { createServer, type Server } from "node:http";

import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import { z } from "zod";

import { intVar } from "./config.js";

// The services define their metrics with these, so that prom-client is a dependency of shared alone.
export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Metrics settings, shared by every service. */
export const metricsConfigShape = {
  /**
   * Port of the internal `/metrics` endpoint; 0 picks a free one. Never expose it publicly.
   * @default 9464
   */
  METRICS_PORT: intVar(0).max(65_535).default(9464),
  /**
   * Interface of the `/metrics` endpoint.
   * @default "0.0.0.0"
   */
  METRICS_HOST: z.string().min(1).default("0.0.0.0"),
} as const;

/** Latency buckets (seconds) from 0.5 ms to 10 s, for acks, deliveries and requests. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Lag buckets (seconds) from 5 ms to 5 min, for work that is allowed to trail behind (persistence). */
export const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A registry with the default process and Node.js metrics, every series labelled with `node`. */
export function createRegistry(node: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  // Event-loop lag is sampled every 10 ms: `nodejs_eventloop_lag_p99_seconds` feeds the alert.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}

/**
 * Errors of Redis clients, by client: the connection name given to `createRedis` (`gateway`,
 * `gateway-pub`, `gateway-sub`, `api`, `worker-queue`, `worker-emitter`). `watchRedis` counts them.
 */
export function redisErrorsCounter(registry: Registry): Counter<"client"> {
  return new Counter({
    name: "parley_redis_errors_total",
    help: "Errors reported by Redis clients, by client.",
    labelNames: ["client"],
    registers: [registry],
  });
}

/** An HTTP server answering `GET /metrics` from `registry`, and 404 to anything else. */
export function createMetricsServer(registry: Registry): Server {
  return createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":{"code":"NOT_FOUND","message":"Not found"}}');
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(body);
      },
      () => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("metrics collection failed\n");
      },
    );
  });
}
