/**
 * The API's own reference: `GET /api/openapi.json`, the OpenAPI 3.1 document generated from the route
 * table once when the app is built, and `GET /api/docs`, a page that renders it with Swagger UI
 * (swagger-ui-dist), whose files the API serves itself: the page loads nothing from any other origin,
 * and Swagger UI's online validator is off. Neither needs a token.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";

import { Router } from "express";

import { openApiDocument } from "@parley/protocol";

/** The paths this module serves, outside the route table (they describe it). */
export const DOCS_PATHS = {
  document: "/api/openapi.json",
  page: "/api/docs",
  /** Starts Swagger UI: a file of its own, since the page's CSP refuses inline scripts. */
  script: "/api/docs/init.js",
  /** Swagger UI's files, `/api/docs/assets/<file>`. */
  assets: "/api/docs/assets",
} as const;

/** How long browsers and proxies may keep the document, in seconds. */
export const DOCUMENT_MAX_AGE_SECONDS = 300;

/** The files of swagger-ui-dist the page uses; nothing else of the package is served. */
const ASSETS = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"]);

/** How long Swagger UI's files may be kept: a day, since their URLs do not change with a new version. */
const ASSET_MAX_AGE_MS = 86_400_000;

/** The folder of swagger-ui-dist, found through its package.json (its main module would load the bundle into Node). */
function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

/** The version of the API package, for `info.version` of the document. */
function apiVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>parley REST API</title>
    <link rel="stylesheet" href="${DOCS_PATHS.assets}/swagger-ui.css">
    <link rel="icon" type="image/png" sizes="32x32" href="${DOCS_PATHS.assets}/favicon-32x32.png">
    <link rel="icon" type="image/png" sizes="16x16" href="${DOCS_PATHS.assets}/favicon-16x16.png">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_PATHS.assets}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_PATHS.script}"></script>
  </body>
</html>
`;

// BaseLayout: no top bar, whose field would load any URL typed into it. validatorUrl null: no badge
// fetched from validator.swagger.io.
const SCRIPT = `"use strict";
window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(DOCS_PATHS.document)},
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null,
  deepLinking: true,
  displayOperationId: true,
  defaultModelsExpandDepth: 0,
});
`;

/**
 * The page's Content-Security-Policy, in place of the API's `default-src 'none'`: scripts and styles
 * from the API only (no inline ones), images also as `data:` URLs (Swagger UI's stylesheet draws its
 * icons so), and requests to the API itself and to the public origin that "Try it out" sends to.
 */
export function docsPageCsp(publicUrl: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${publicUrl}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Options of {@link docsRoutes}. */
export interface DocsOptions {
  /** The public origin (`PUBLIC_URL`): the document's server, and where the page may send requests. */
  publicUrl: string;
}

/**
 * The document, the page, its script and Swagger UI's files; mount under `/api`, before the middleware
 * that makes every answer `no-store`: these set their own `Cache-Control`.
 */
export function docsRoutes({ publicUrl }: DocsOptions): Router {
  const document = JSON.stringify(openApiDocument({ serverUrl: publicUrl, version: apiVersion() }));
  const assetsDir = swaggerUiDir();
  const csp = docsPageCsp(publicUrl);
  const local = (path: string) => path.slice("/api".length);
  const router = Router();

  router.get(local(DOCS_PATHS.document), (_req, res) => {
    res.setHeader("cache-control", `public, max-age=${DOCUMENT_MAX_AGE_SECONDS}`);
    res.type("application/json").send(document);
  });

  router.get(local(DOCS_PATHS.page), (_req, res) => {
    res.setHeader("content-security-policy", csp);
    res.setHeader("cache-control", `public, max-age=${DOCUMENT_MAX_AGE_SECONDS}`);
    res.type("html").send(PAGE);
  });

  router.get(local(DOCS_PATHS.script), (_req, res) => {
    res.setHeader("cache-control", `public, max-age=${DOCUMENT_MAX_AGE_SECONDS}`);
    res.type("text/javascript").send(SCRIPT);
  });

  router.get(`${local(DOCS_PATHS.assets)}/:file`, (req, res, next) => {
    const file = req.params.file;
    if (!ASSETS.has(file)) {
      next();
      return;
    }
    res.sendFile(file, { root: assetsDir, maxAge: ASSET_MAX_AGE_MS, dotfiles: "deny" }, (err) => {
      if (err) next(err);
    });
  });

  return router;
}
