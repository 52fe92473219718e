/**
 * The web app (packages/web): built by Vite into packages/web/dist for nginx to serve at `/`, again
 * only when what goes into it changed: its sources, the built SDK and protocol it bundles (tsc -b's
 * output, so build after tsc), the locked dependency versions, and this file. A hash of those is kept
 * beside the build, as scripts/setup.mjs does for the Go tools.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";

import { ROOT } from "./paths.js";

/** The app's workspace. */
export const WEB_DIR = join(ROOT, "packages/web");
/** What nginx serves at `/`. */
export const WEB_DIST = join(WEB_DIR, "dist");
/** The hash of the inputs of the build in {@link WEB_DIST}. */
const STAMP = ".build-hash";

/** Every file under `dir` (none when it is missing), sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/** The hash of everything the build reads. */
export function webSourceHash(): string {
  const inputs = [
    ...["index.html", "vite.config.ts", "package.json", "tsconfig.json"].map((name) => join(WEB_DIR, name)),
    ...filesUnder(join(WEB_DIR, "src")),
    ...filesUnder(join(WEB_DIR, "public")),
    ...filesUnder(join(ROOT, "packages/client/dist")).filter((path) => path.endsWith(".js")),
    ...filesUnder(join(ROOT, "packages/protocol/dist")).filter((path) => path.endsWith(".js")),
    join(ROOT, "package-lock.json"),
    // How it is built.
    join(ROOT, "scripts/lib/web.ts"),
  ];
  const hash = createHash("sha256");
  for (const path of inputs) hash.update(relative(ROOT, path)).update("\0").update(readFileSync(path)).update("\0");
  return hash.digest("hex");
}

/** Whether {@link WEB_DIST} holds a build of the current sources. */
export function webBuildIsFresh(hash = webSourceHash()): boolean {
  const stamp = join(WEB_DIST, STAMP);
  return existsSync(join(WEB_DIST, "index.html")) && existsSync(stamp) && readFileSync(stamp, "utf8") === hash;
}

/**
 * Builds the app unless {@link WEB_DIST} is fresh; returns whether it built. The build goes to a
 * directory of its own, then takes the place of the old one by two renames, so that an nginx serving
 * the old build never serves a half-written one (between the renames it has none, for a moment).
 */
export function ensureWebBuild(log: (message: string) => void = () => {}): boolean {
  const hash = webSourceHash();
  if (webBuildIsFresh(hash)) return false;
  log("building the web app (packages/web)");
  // Vite as the app's own workspace resolves it, not the root's (vitest brings an older one).
  const vitePackage = createRequire(join(WEB_DIR, "package.json")).resolve("vite/package.json");
  const vite = join(vitePackage, "..", (JSON.parse(readFileSync(vitePackage, "utf8")) as { bin: { vite: string } }).bin.vite);
  const out = join(WEB_DIR, `dist.build-${process.pid}`);
  const result = spawnSync(process.execPath, [vite, "build", "--outDir", out, "--emptyOutDir", "--logLevel", "warn"], {
    cwd: WEB_DIR,
    // vitest's NODE_ENV=test would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`vite build of packages/web failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  writeFileSync(join(out, STAMP), hash);
  const old = join(WEB_DIR, `dist.old-${process.pid}`);
  if (existsSync(WEB_DIST)) renameSync(WEB_DIST, old);
  renameSync(out, WEB_DIST);
  rmSync(old, { recursive: true, force: true });
  return true;
}
