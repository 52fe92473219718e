/**
 * `npm run load -- <scenario> [k6 args…]`: runs load-tests/scenarios/<scenario>.js with the k6 that
 * `npm run load` builds first (`scripts/setup.mjs --k6`), against `TARGET`, by default the local
 * cluster of `npm start` on http://localhost:8080.
 *
 * The environment goes to k6 as it is (each scenario documents its variables: `RATE=5 npm run load --
 * chat`). The end-of-test summary is also written as JSON to reports/load/<scenario>-<time>.json,
 * unless the k6 arguments name their own `--summary-export`. Exits with k6's status: 0 when every
 * threshold held, 99 when one failed.
 *
 * The local cluster's nginx limits connections and requests per client address as production does,
 * and k6 opens everything from 127.0.0.1: for more than a hundred sockets or a quick setup of many
 * users, start it with `NGINX_LIMITS=load npm start` (this script says so when it finds the limits on).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

import { nginxLimitsOf, type NginxLimits } from "./lib/nginx.js";
import { CACHE_DIR, ROOT, RUN_DIR } from "./lib/paths.js";

const K6 = join(CACHE_DIR, "bin", "k6");
const SCENARIOS_DIR = join(ROOT, "load-tests", "scenarios");
const REPORTS_DIR = join(ROOT, "reports", "load");
const DEFAULT_TARGET = "http://localhost:8080";

/** Scenario names with the first line of each one's header comment. */
function scenarios(): { name: string; summary: string }[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((file) => file.endsWith(".js"))
    .sort()
    .map((file) => {
      const header = /\/\*\*\s*\n\s*\*\s*(.+)/.exec(readFileSync(join(SCENARIOS_DIR, file), "utf8"))?.[1] ?? "";
      return { name: file.slice(0, -3), summary: header.replace(/^\w+:\s*/, "") };
    });
}

function usage(problem?: string): never {
  const list = scenarios();
  const width = Math.max(...list.map((s) => s.name.length));
  if (problem) console.error(problem);
  console.error(
    `Usage: npm run load -- <scenario> [k6 run arguments…]\n\nScenarios (load-tests/scenarios/):\n${list
      .map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`)
      .join("\n")}\n\nTARGET (default ${DEFAULT_TARGET}) names the deployment; see README.md, "Load tests".`,
  );
  process.exit(2);
}

/** Resolves when `${url}/readyz` answers 200; else exits with a message that says what to do. */
async function checkReady(name: string, url: string, hint: string): Promise<void> {
  let problem: string;
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
    if (res.ok) return;
    problem = `answers ${res.status}: ${(await res.text()).slice(0, 200)}`;
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    problem = `does not answer (${cause})`;
  }
  console.error(`${name} ${url}/readyz ${problem}.\n${hint}`);
  process.exit(1);
}

const [scenario, ...k6Args] = process.argv.slice(2);
if (!scenario || scenario === "--help" || scenario === "-h") usage();
if (!scenarios().some((s) => s.name === scenario)) usage(`Unknown scenario: ${scenario}\n`);
if (!existsSync(K6)) {
  console.error(`k6 is not built: run \`node scripts/setup.mjs --k6\` (npm run load does it first).`);
  process.exit(1);
}

const target = (process.env.TARGET || DEFAULT_TARGET).replace(/\/+$/, "");
const hint =
  target === DEFAULT_TARGET
    ? "Start the local cluster first (`npm start` in another terminal), or set TARGET to a deployment's origin."
    : "Check TARGET (and API_URL / SOCKET_URL if set): it must be the origin that serves /api and /socket.io.";
await checkReady("TARGET", process.env.API_URL || target, hint);
if (process.env.SOCKET_URL && process.env.SOCKET_URL !== (process.env.API_URL || target)) {
  await checkReady("SOCKET_URL", process.env.SOCKET_URL.replace(/\/+$/, ""), hint);
}

/** The per-address limits of the local cluster's nginx (`npm start`), when it runs with them. */
function localNginxLimits(): NginxLimits | undefined {
  try {
    return nginxLimitsOf(readFileSync(join(RUN_DIR, "local", "nginx", "nginx.conf"), "utf8"));
  } catch {
    // No local cluster's config, or one without limits (NGINX_LIMITS=off).
    return undefined;
  }
}

const limits = target === DEFAULT_TARGET ? localNginxLimits() : undefined;
if (limits && limits.sockets < 1_000) {
  console.error(
    `Note: the local cluster's nginx allows ${limits.sockets} Socket.IO connections and ${limits.auth.rate} (bursts of ` +
      `${limits.auth.burst}) /api/auth/ requests per client address, and k6 connects from one address. ` +
      "For larger runs, restart it with `NGINX_LIMITS=load npm start`.",
  );
}

const args = ["run", join(SCENARIOS_DIR, `${scenario}.js`)];
const ownExport = k6Args.some((arg) => arg === "--summary-export" || arg.startsWith("--summary-export="));
let report: string | undefined;
if (!ownExport) {
  mkdirSync(REPORTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, "-");
  report = join(REPORTS_DIR, `${scenario}-${stamp}Z.json`);
  args.push("--summary-export", report);
}
args.push(...k6Args);

console.error(`k6 ${scenario} against ${target}${report ? `; summary → ${relative(ROOT, report)}` : ""}`);
const k6 = spawn(K6, args, {
  stdio: "inherit",
  env: {
    ...process.env,
    TARGET: target,
    // No usage report to Grafana from a test machine unless asked for.
    K6_NO_USAGE_REPORT: process.env.K6_NO_USAGE_REPORT ?? "true",
  },
});
// Ctrl-C reaches k6 too (same process group): it stops, prints and writes its summary, then exits.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => k6.kill("SIGTERM"));
k6.on("error", (err) => {
  console.error(`cannot run ${K6}: ${err.message}`);
  process.exit(1);
});
k6.on("exit", (code, signal) => {
  if (report && existsSync(report)) console.error(`summary: ${relative(ROOT, report)}`);
  process.exit(code ?? (signal ? 128 + 15 : 1));
});
