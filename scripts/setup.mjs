#!/usr/bin/env node
// Installs what the project needs, idempotently, before `npm start` and `npm test`:
//   1. npm dependencies, when node_modules is missing or older than package-lock.json;
//   2. redis-server and nginx from Debian's packages (apt-get), when absent and we are root;
//   3. the FerretDB launcher (infra/ferretdb), built once with `go build` into .cache/bin and rebuilt
//      only when its sources or patches change. Go's module and build caches live under .cache/go.
//   4. versitygw, the local S3-compatible object store (an S3 gateway over a directory), built the same
//      way from the release pinned in infra/versitygw (go.mod, go.sum) into .cache/bin/versitygw, for
//      `npm start` unless S3_ENDPOINT names another store, and always with --test-tools (a few minutes, once).
//   5. for the deployment tests: docker-compose and promtool (package prometheus, its daemon kept from
//      starting) from Debian, and compose-check (infra/compose-check: Docker Compose v2's loader and
//      the official compose-spec schema), built like the launcher; for the API reference page's test,
//      Chromium from Debian.
//   6. with --k6 (npm run load, npm test): k6, the load-test tool, built from the version pinned in
//      infra/k6 (go.mod, go.sum) into .cache/bin/k6, again only when that pin changes.
//   7. with --dashboard (npm run dashboard): Chromium, to screenshot the rendered dashboard, Inter
//      (Grafana's typeface) and the Prometheus server (package prometheus, as for promtool) from
//      Debian.
// Dependency-free on purpose: it runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CACHE = join(ROOT, ".cache");
const quiet = process.argv.includes("--quiet");

function log(message) {
  if (!quiet) console.error(`[setup] ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: ROOT, ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

function which(command, extraDirs = []) {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...extraDirs]) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function npmDependencies() {
  const marker = join(ROOT, "node_modules", ".package-lock.json");
  const lock = join(ROOT, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log("installing npm dependencies");
  // Not `npm ci`: it insists that the lockfile lists every platform's optional package (rollup's
  // darwin/win32/… binaries), which a registry mirror serving only this platform cannot provide.
  // `npm install` installs the locked versions all the same.
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

let aptUpdated = false;
/**
 * Installs `pkg` when `command` is missing (a command on PATH, or an absolute path for packages without
 * one, such as fonts). Services the package would start (prometheus) are kept
 * from starting with a policy-rc.d for the duration of the install: the tests only need the tools.
 */
function debianPackage(command, pkg) {
  if (command.startsWith("/") ? existsSync(command) : which(command, ["/usr/sbin", "/usr/local/sbin"])) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`${command} is not installed; install the Debian package '${pkg}' (needs root)`);
  }
  log(`installing ${pkg} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) run("apt-get", ["update", "-qq"], { env });
  aptUpdated = true;
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], { env });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

/**
 * Builds the Go program in infra/<name> into .cache/bin/<binary>, again only when its sources change.
 * With `pkg`, builds that package of the module's dependencies instead (its version pinned by the
 * module's go.mod and go.sum, which are then the only sources).
 *
 * Patches: infra/<name>/patches/<module>@<version>/*.patch are applied to a copy of that dependency
 * (`/` in the module path written as `!`, e.g. `github.com!FerretDB!FerretDB@v1.24.2`), and the build
 * uses the copy through a `replace` in a generated go.mod; the committed go.mod stays untouched.
 */
function goProgram(name, binary, why, pkg = ".") {
  const source = join(ROOT, "infra", name);
  binary = join(CACHE, "bin", binary);
  const stamp = `${binary}.sha256`;
  const patchesDir = join(source, "patches");
  const patched = existsSync(patchesDir) ? readdirSync(patchesDir).sort() : [];
  const hash = createHash("sha256");
  const sources = pkg === "." ? ["main.go", "go.mod", "go.sum"] : ["go.mod", "go.sum"];
  for (const file of sources) hash.update(readFileSync(join(source, file)));
  for (const dependency of patched) {
    for (const patch of readdirSync(join(patchesDir, dependency)).sort()) {
      hash.update(`${dependency}/${patch}`).update(readFileSync(join(patchesDir, dependency, patch)));
    }
  }
  const digest = hash.digest("hex");
  if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest) return;

  const go = which("go", ["/usr/local/go/bin"]);
  if (!go) throw new Error(`Go is required to build ${why} (looked in PATH and /usr/local/go/bin)`);
  log(`building ${why} (first run only)`);
  mkdirSync(dirname(binary), { recursive: true });
  const env = {
    ...process.env,
    GOMODCACHE: join(CACHE, "go", "mod"),
    GOCACHE: join(CACHE, "go", "build"),
    GOFLAGS: "-mod=readonly",
    CGO_ENABLED: "0",
  };
  const args = ["build", "-trimpath", "-o", binary];
  if (patched.length > 0) args.push(`-modfile=${patchedModFile(go, source, patchesDir, patched, digest, env)}`);
  run(go, [...args, pkg], { cwd: source, env });
  writeFileSync(stamp, digest);
}

/** Patched copies of the dependencies `patched` (see {@link goProgram}); returns the go.mod that uses them. */
function patchedModFile(go, source, patchesDir, patched, digest, env) {
  const work = join(CACHE, "go-patched", digest.slice(0, 16));
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const replaces = [];
  for (const dependency of patched) {
    const [module, version] = dependency.replaceAll("!", "/").split("@");
    const download = spawnSync(go, ["mod", "download", "-json", `${module}@${version}`], { cwd: source, env, encoding: "utf8" });
    if (download.status !== 0) throw new Error(`go mod download ${module}@${version} failed: ${download.stderr}`);
    const copy = join(work, dependency);
    cpSync(JSON.parse(download.stdout).Dir, copy, { recursive: true });
    // The module cache is read-only.
    run("chmod", ["-R", "u+w", copy]);
    for (const patch of readdirSync(join(patchesDir, dependency)).sort()) {
      log(`patching ${module}@${version}: ${patch}`);
      // The copy lies inside this repository's (ignored) .cache: keep git from treating it as part of it.
      run("git", ["apply", "--whitespace=nowarn", join(patchesDir, dependency, patch)], {
        cwd: copy,
        env: { ...process.env, GIT_CEILING_DIRECTORIES: work },
      });
    }
    replaces.push(`replace ${module} ${version} => ${copy}`);
  }
  const modFile = join(work, "go.mod");
  writeFileSync(modFile, `${readFileSync(join(source, "go.mod"), "utf8")}\n${replaces.join("\n")}\n`);
  cpSync(join(source, "go.sum"), join(work, "go.sum"));
  return modFile;
}

try {
  npmDependencies();
  debianPackage("redis-server", "redis-server");
  debianPackage("nginx", "nginx-light");
  if (!process.env.MONGO_URL) goProgram("ferretdb", "ferretdb-launcher", "the FerretDB launcher");
  else log("MONGO_URL is set: skipping the FerretDB launcher");
  const testTools = process.argv.includes("--test-tools");
  if (testTools || !process.env.S3_ENDPOINT) {
    goProgram("versitygw", "versitygw", "versitygw, the local object store", "github.com/versity/versitygw/cmd/versitygw");
  } else log("S3_ENDPOINT is set: skipping versitygw");
  if (testTools) {
    debianPackage("docker-compose", "docker-compose");
    debianPackage("promtool", "prometheus");
    goProgram("compose-check", "compose-check", "compose-check");
    debianPackage("chromium", "chromium");
  }
  if (process.argv.includes("--dashboard")) {
    debianPackage("chromium", "chromium");
    debianPackage("/usr/share/fonts/opentype/inter", "fonts-inter");
    debianPackage("prometheus", "prometheus");
  }
  if (process.argv.includes("--k6")) goProgram("k6", "k6", "k6, the load-test tool (about 1.5 min)", "go.k6.io/k6/v2");
} catch (err) {
  console.error(`[setup] ${err.message}`);
  process.exit(1);
}
