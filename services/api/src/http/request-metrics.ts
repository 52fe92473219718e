/**
 * Counts and times every request by the Express route pattern that answered it. Mounted first, so the
 * duration covers every middleware.
 */
import type { Request, RequestHandler } from "express";

import type { ApiMetrics } from "../metrics.js";

/** `route` of a request that reached no route and no router below the application. */
export const UNMATCHED_ROUTE = "unmatched";

/** Options of {@link requestMetrics}. */
export interface RequestMetricsOptions {
  /** Paths answered outside the routers (health checks), counted with their path as `route`. */
  fixedPaths?: ReadonlySet<string>;
}

/**
 * Records `parley_api_requests_total` and `parley_api_request_duration_seconds` when each response
 * has been sent. The `route` label is:
 * - the pattern of the route that answered, mount path included (`/api/conversations/:id/messages`);
 * - `<mount path>/*` when the request entered a router but was answered before reaching a route there
 *   (a 401 from authentication, a 429 from a rate limit, a 404 inside the router);
 * - the path itself for one of `fixedPaths`;
 * - {@link UNMATCHED_ROUTE} otherwise (any other unknown URL).
 * A request whose client went away before the response was complete is not counted.
 */
export function requestMetrics(metrics: ApiMetrics, { fixedPaths = new Set() }: RequestMetricsOptions = {}): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const routing = followRouting(req);
    res.on("finish", () => {
      try {
        const path = req.originalUrl.split("?")[0] ?? "";
        const route = routing.route ?? (routing.mount ? `${routing.mount}/*` : fixedPaths.has(path) ? path : UNMATCHED_ROUTE);
        metrics.requestAnswered(req.method, route, res.statusCode, (performance.now() - started) / 1000);
      } catch {
        // A metric is never worth failing a request for; nothing is left to answer anyway.
      }
    });
    next();
  };
}

/** What {@link followRouting} saw of the request's way through the routers. */
interface Routing {
  /** Pattern of the last route matched, mount path included. */
  route: string | undefined;
  /** The deepest mount path the request entered (`/api/conversations`). */
  mount: string;
}

/**
 * Watches the router set `req.baseUrl` (when the request enters a mounted router) and `req.route` (when
 * a route matches). Both are needed at the moment the route matches: by the time the response is sent,
 * an error that went back up through the routers has restored `baseUrl` to its outer value.
 */
function followRouting(req: Request): Routing {
  const routing: Routing = { route: undefined, mount: "" };
  let baseUrl: string = req.baseUrl ?? "";
  let route: unknown = req.route;
  Object.defineProperty(req, "baseUrl", {
    configurable: true,
    enumerable: true,
    get: () => baseUrl,
    set: (value: string) => {
      baseUrl = value;
      if (typeof value === "string" && value.length > routing.mount.length) routing.mount = value;
    },
  });
  Object.defineProperty(req, "route", {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (typeof path === "string") routing.route = path === "/" && baseUrl ? baseUrl : `${baseUrl}${path}`;
    },
  });
  return routing;
}
