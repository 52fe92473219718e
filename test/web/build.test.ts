/**
 * The built web app as nginx serves it (the test run's global setup builds it): current, every script
 * and style a file of its own (the Content-Security-Policy allows no inline code), named by its content
 * hash (nginx caches /assets/ for a year), and React's production build.
 */
import { gzipSync } from "node:zlib";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { WEB_DIST, webBuildIsFresh } from "../../scripts/lib/web.js";

/** Well above the app today (about 100 KB), well below a development build of React (about 160 KB). */
const MAX_SCRIPT_GZIP_BYTES = 130_000;

describe("the built web app", () => {
  const index = readFileSync(join(WEB_DIST, "index.html"), "utf8");
  const assets = readdirSync(join(WEB_DIST, "assets"));

  it("is a build of the current sources", () => {
    expect(webBuildIsFresh()).toBe(true);
  });

  it("has no inline script or style, only files under /assets/ named by their content hash", () => {
    const scripts = [...index.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes = "", body] of scripts) {
      expect(attributes).toMatch(/\bsrc="\/assets\/[^"]+"/);
      expect(body).toBe("");
    }
    expect(index).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    const linked = [...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]);
    expect(linked.length).toBeGreaterThanOrEqual(2);
    for (const name of linked) expect(assets).toContain(name);
    for (const name of assets) expect(name).toMatch(/-[A-Za-z0-9_-]{8,}\.(js|css)$/);
  });

  it("bundles React's production build, small enough to load fast", () => {
    const scripts = assets.filter((name) => name.endsWith(".js")).map((name) => readFileSync(join(WEB_DIST, "assets", name)));
    const gzipped = scripts.reduce((sum, script) => sum + gzipSync(script).length, 0);
    expect(gzipped).toBeLessThan(MAX_SCRIPT_GZIP_BYTES);
  });
});
