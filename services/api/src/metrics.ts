/**
 * The API's Prometheus metrics (RED: requests, errors by status, duration), on a registry the caller
 * owns: `index.ts` serves the process's registry on `METRICS_PORT`; tests use one of their own.
 *
 * `route` is the Express route pattern that answered (`/api/conversations/:id/messages`), never the
 * raw URL, so ids never become label values.
 */
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, redisErrorsCounter, type Registry } from "@parley/shared/metrics";

import type { HashRefusal, PasswordHasherMetrics } from "./auth/password-hasher.js";

/** The labels of both request metrics. */
export type RequestLabel = "method" | "route" | "status";

/** HTTP methods counted under their own name; any other is counted as `OTHER`. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Every metric the API records. */
export class ApiMetrics {
  /** `parley_api_requests_total{method,route,status}`: answered requests. */
  readonly requests: Counter<RequestLabel>;
  /** `parley_api_request_duration_seconds{method,route,status}`: from arrival to the last byte sent. */
  readonly requestDuration: Histogram<RequestLabel>;
  /** `parley_redis_errors_total{client}`: pass to `createRedis` as `errors`. */
  readonly redisErrors: Counter<"client">;
  /**
   * `parley_api_password_hashes_in_flight`, `parley_api_password_hashes_waiting` and
   * `parley_api_password_hash_refusals_total{reason}` (`queue_full`, `wait_timeout`): the `PasswordHasher`'s.
   */
  readonly passwordHashes: PasswordHasherMetrics;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "parley_api_requests_total",
      help: "HTTP requests answered, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    });
    this.requestDuration = new Histogram({
      name: "parley_api_request_duration_seconds",
      help: "HTTP request duration, by method, route pattern and status.",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.redisErrors = redisErrorsCounter(registry);
    const refusals = new Counter({
      name: "parley_api_password_hash_refusals_total",
      help: "Password hashes refused with 503 before any hashing, by reason: queue_full, wait_timeout.",
      labelNames: ["reason"],
      registers: [registry],
    });
    for (const reason of ["queue_full", "wait_timeout"] satisfies HashRefusal[]) refusals.inc({ reason }, 0);
    this.passwordHashes = {
      inFlight: new Gauge({
        name: "parley_api_password_hashes_in_flight",
        help: "Password hashes (scrypt) running now, at most PASSWORD_HASH_CONCURRENCY.",
        registers: [registry],
      }),
      waiting: new Gauge({
        name: "parley_api_password_hashes_waiting",
        help: "Password hashes waiting for a slot, at most PASSWORD_HASH_QUEUE.",
        registers: [registry],
      }),
      refusals,
    };
  }

  /** A request to `route` was answered with `status` after `seconds`. Never throws. */
  requestAnswered(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: METHODS.has(method) ? method : "OTHER", route, status: String(status) };
    this.requests.inc(labels);
    if (Number.isFinite(seconds)) this.requestDuration.observe(labels, Math.max(0, seconds));
  }
}
