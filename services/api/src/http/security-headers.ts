/**
 * Security headers on every answer of the API, whatever its status (errors, 404 and health checks
 * included), set by helmet with every option spelled out, so that a helmet upgrade changes nothing
 * unnoticed. The API serves JSON, and one page: its reference at `/api/docs`, which replaces the
 * Content-Security-Policy with its own (`routes/docs.routes.ts`). No answer is ever meant to be framed
 * or embedded.
 */
import type { RequestHandler } from "express";
import helmet from "helmet";

import { allowedOrigins } from "@parley/shared/config";

import type { ApiConfig } from "../config.js";
import { crossOrigin } from "./cross-origin.js";

/** `Strict-Transport-Security` max-age: one year, as browsers' preload lists expect. */
export const HSTS_MAX_AGE_SECONDS = 31_536_000;

/**
 * Sets, on every response:
 * - `X-Content-Type-Options: nosniff`: a JSON answer is never sniffed into a script or a document;
 * - `X-Frame-Options: DENY` and `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`:
 *   nothing loads from an answer, and no page can frame one (clickjacking);
 * - `Referrer-Policy: no-referrer`;
 * - `Cross-Origin-Resource-Policy: same-origin` and `X-Permitted-Cross-Domain-Policies: none`: no other
 *   site can embed an answer as a resource (CORS-enabled calls from the allowed origins still work);
 * - `Strict-Transport-Security` (one year), only on requests that arrived over HTTPS as Express sees
 *   them (`req.secure`): TLS ends at the proxy in front, which says so with `X-Forwarded-Proto: https`,
 *   believed from the proxies `TRUST_PROXY` names. Browsers ignore HSTS over plain HTTP anyway, and a
 *   local `http://` deployment must not pin itself to HTTPS.
 *
 * Headers that only matter for HTML documents (COOP, COEP, Origin-Agent-Cluster, DNS prefetch,
 * X-Download-Options, the legacy XSS filter) are left out.
 */
export function securityHeaders(): RequestHandler {
  const always = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xContentTypeOptions: true,
    xFrameOptions: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    crossOriginResourcePolicy: { policy: "same-origin" },
    xPermittedCrossDomainPolicies: { permittedPolicies: "none" },
    xPoweredBy: true,
    strictTransportSecurity: false,
    crossOriginOpenerPolicy: false,
    crossOriginEmbedderPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xXssProtection: false,
  });
  const hsts = helmet.strictTransportSecurity({ maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false, preload: false });
  return (req, res, next) => {
    always(req, res, (err?: unknown) => {
      if (err !== undefined) next(err);
      else if (req.secure) hsts(req, res, next);
      else next();
    });
  };
}

/**
 * What the API puts on every answer at its edge, in order: the {@link securityHeaders}, then CORS for
 * `CORS_ORIGINS` (by default the origin of `PUBLIC_URL`), which answers preflights itself.
 */
export function edgeHeaders(config: Pick<ApiConfig, "CORS_ORIGINS" | "PUBLIC_URL">): RequestHandler[] {
  return [securityHeaders(), crossOrigin(allowedOrigins(config.CORS_ORIGINS, config.PUBLIC_URL))];
}
