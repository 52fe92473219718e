/**
 * The built web app as nginx serves it (the test run's global setup builds it): current, every script
 * and style a file of its own (the Content-Security-Policy allows no inline code), named by its content
 * hash (nginx caches /assets/ for a year), React's production build, and a service worker that
 * precaches exactly this build's app shell.
 */
import { createHash } from "node:crypto";
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

  it("has a service worker at the root that precaches this build's page and every asset, and nothing else", () => {
    const worker = readFileSync(join(WEB_DIST, "sw.js"), "utf8");
    // Workbox's precache manifest: {url:"…",revision:"…"} (a revision of null for hashed names).
    const entries = [...worker.matchAll(/\{url:"([^"]+)",revision:(null|"[0-9a-f]+")\}/g)].map(([, url = "", revision = ""]) => ({ url, revision }));
    expect(entries.map(({ url }) => url).sort()).toEqual(["favicon.svg", "index.html", ...assets.map((name) => `assets/${name}`)].sort());
    const md5 = (name: string) => `"${createHash("md5").update(readFileSync(join(WEB_DIST, name))).digest("hex")}"`;
    expect(entries.find(({ url }) => url === "index.html")?.revision).toBe(md5("index.html"));
    for (const { url, revision } of entries) if (url.startsWith("assets/")) expect(revision, url).toBe("null");
    // Its runtime is in it (one file to serve), and the bundle registers it: no inline registration.
    expect(readdirSync(WEB_DIST).filter((name) => name.endsWith(".js"))).toEqual(["sw.js"]);
    expect(worker).not.toContain("importScripts");
    const scripts = assets.filter((name) => name.endsWith(".js")).map((name) => readFileSync(join(WEB_DIST, "assets", name), "utf8"));
    expect(scripts.some((script) => /\.register\(["'`]\/sw\.js["'`]/.test(script))).toBe(true);
  });
});
