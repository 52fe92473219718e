/**
 * `npm run dashboard`: the Grafana dashboard infra/grafana/dashboards/parley-overview.json during a
 * load run, as an image. Grafana does not install on the development machine, so this is the nearest
 * honest thing: the dashboard's own queries, evaluated by a real Prometheus on real data, drawn by
 * parley's script with the dashboard's titles, layout, units and legends. The image says so.
 *
 * Starts the local cluster (nginx, two gateways, the API, the worker, Redis, FerretDB) under
 * .run/dashboard/, a Prometheus that scrapes each of its processes every 2 s (the jobs of
 * infra/prometheus/prometheus.yml and its alert rules), idles 10 s, runs a k6 scenario against it,
 * idles again; then evaluates every query of every panel over the whole window (`query_range`, step
 * 2 s, `$__rate_interval` as Grafana computes it), stops everything, draws the page
 * (reports/dashboard/<time>.html, with the series in <time>.json) and screenshots it with headless
 * Chromium. Prints each panel's series count and highest value, and exits non-zero when a panel that
 * a load must fill came back empty.
 *
 * Options (defaults in parentheses):
 *   --scenario name     a scenario of load-tests/scenarios/ (chat)
 *   --duration 120s     its send window (the scenario's DURATION)
 *   --idle 20s          quiet time after the load, on the graphs
 *   --out path          the screenshot (docs/dashboard-load-run.png)
 *   --redraw file.json  no run: draw a recorded one again (reports/dashboard/<time>.json)
 * The environment goes to k6 as it is (RATE=2, CONVERSATIONS=30, …: the scenario's header lists them)
 * and to the services. MONGO_URL: persist into this MongoDB (a database of the run's own) instead of
 * an embedded FerretDB.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { K6_BINARY, runK6 } from "./bench/k6.js";
import { CHROMIUM, withChromiumPage } from "./lib/chromium.js";
import { startCluster, type Cluster } from "./lib/cluster.js";
import { withDatabase } from "./lib/ferretdb.js";
import { ONE_ADDRESS_LIMITS } from "./lib/one-address-limits.js";
import { LOAD_GENERATOR_NGINX_LIMITS } from "./lib/nginx.js";
import { ROOT, RUN_DIR } from "./lib/paths.js";
import { PROMETHEUS_BINARY, clusterScrapeJobs, startPrometheus, type PrometheusServer } from "./lib/prometheus.js";
import {
  parseDashboard,
  promDuration,
  rateIntervalSeconds,
  substituteVariables,
  toSeries,
  unresolvedVariables,
  type Dashboard,
  type MatrixSeries,
  type PanelData,
  type PanelTarget,
  type Series,
} from "./dashboard/panels.js";
import { renderDashboardHtml, summarisePanel, type Annotation } from "./dashboard/render.js";

const DASHBOARD_FILE = join(ROOT, "infra", "grafana", "dashboards", "parley-overview.json");
const SCENARIOS_DIR = join(ROOT, "load-tests", "scenarios");
const REPORTS_DIR = join(ROOT, "reports", "dashboard");
const SCRAPE_SECONDS = 2;
const STEP_SECONDS = 2;
/** What Grafana's interval variables are filled from. */
const QUERY_CONTEXT = { scrapeIntervalSeconds: SCRAPE_SECONDS, stepSeconds: STEP_SECONDS };
/** Quiet time before the load: the graphs start from the idle cluster. */
const LEAD_SECONDS = 10;
/** Page width; the grid gets it less 16 px of margin on each side. */
const VIEWPORT_WIDTH = 1600;

/**
 * Panels that any load fills, by title: an empty one means a broken query or a missing metric. The
 * message and persistence ones only for scenarios that send messages.
 */
const ALWAYS_FILLED = [/^Connected sockets/, /^Connects and disconnects/, /^Requests per second/, /^Request latency/, /^Event-loop lag/, /^Resident memory/, /^Heap used/];
const FILLED_BY_MESSAGES = [/^Messages per second/, /^Delivery latency/, /^Ack latency by event/, /^Ack latency of message:send/, /^Queue depth/, /^Persistence lag/, /^Batch size/, /^MongoDB write latency/];

const { values: args } = parseArgs({
  options: {
    scenario: { type: "string", default: "chat" },
    duration: { type: "string", default: "120s" },
    idle: { type: "string", default: "20s" },
    out: { type: "string", default: "docs/dashboard-load-run.png" },
    redraw: { type: "string" },
  },
});

/** `120`, `120s`, `2m` → seconds; exits naming the option otherwise. */
function durationOption(name: string, text: string): number {
  const match = /^(\d+)(s|m)?$/.exec(text.trim());
  if (!match) {
    console.error(`--${name} takes a duration like 90s or 2m, not ${text}`);
    process.exit(2);
  }
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

const durationSeconds = durationOption("duration", args.duration);
const idleSeconds = durationOption("idle", args.idle);
const scenarioFile = join(SCENARIOS_DIR, `${args.scenario}.js`);
const out = resolve(ROOT, args.out);
for (const [what, file] of [
  [`scenario ${args.scenario} (load-tests/scenarios/)`, scenarioFile],
  ["k6 (node scripts/setup.mjs --k6)", K6_BINARY],
  ["prometheus (node scripts/setup.mjs --dashboard)", PROMETHEUS_BINARY],
  ["chromium (node scripts/setup.mjs --dashboard)", CHROMIUM],
] as const) {
  if (!existsSync(file)) {
    console.error(`missing ${what}: ${file}`);
    process.exit(1);
  }
}

/**
 * The variables of a scenario's header (`NAME  default  description` lines under `Environment:`),
 * each with the value this run gives it: the environment's, or the header's default.
 */
function scenarioVariables(source: string, env: NodeJS.ProcessEnv): Map<string, string> {
  const header = /\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? "";
  const variables = new Map<string, string>();
  for (const match of header.matchAll(/^\s*\*\s+([A-Z][A-Z0-9_]+)\s{2,}(\S+)/gm)) variables.set(match[1]!, env[match[1]!] || match[2]!);
  return variables;
}

/** The variables that shape a load, shown on the image when the scenario has them. */
const SHAPE = ["CONVERSATIONS", "MEMBERS", "RATE", "GROUPS", "GROUP_SIZE", "SOCKETS", "DURATION", "RAMP", "HOLD"];

function log(line: string): void {
  console.log(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
const runDir = join(RUN_DIR, "dashboard", stamp);
const k6Env: Record<string, string> = { DURATION: `${durationSeconds}s` };
const variables = scenarioVariables(readFileSync(scenarioFile, "utf8"), { ...process.env, ...k6Env });

let cluster: Cluster | undefined;
let prometheus: PrometheusServer | undefined;
let stopK6: (() => Promise<void>) | undefined;
async function stopAll(): Promise<void> {
  await stopK6?.().catch(() => {});
  await prometheus?.stop().catch(() => {});
  await cluster?.stop().catch(() => {});
  stopK6 = prometheus = cluster = undefined;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void stopAll().finally(() => process.exit(130));
  });
}

/** Evaluates every query of every panel over `[from, to]`. */
async function evaluate(server: PrometheusServer, panels: Dashboard["panels"], from: number, to: number): Promise<Map<number, PanelData>> {
  const data = new Map<number, PanelData>();
  for (const panel of panels) {
    if (panel.type === "row") continue;
    const panelData: PanelData = { series: [], errors: [] };
    for (const target of panel.targets) {
      const expr = substituteVariables(target.expr, QUERY_CONTEXT);
      const unresolved = unresolvedVariables(expr);
      if (unresolved.length > 0) {
        panelData.errors.push(`${target.refId}: variables this renderer cannot fill: ${unresolved.join(", ")}`);
        continue;
      }
      const res = await server.queryRange(expr, { start: from, end: to, stepSeconds: STEP_SECONDS });
      if (res.status !== "success" || res.data?.resultType !== "matrix") {
        panelData.errors.push(`${target.refId}: ${res.error ?? `unexpected ${res.data?.resultType} result`}`);
        continue;
      }
      panelData.series.push(...toSeries({ ...target, expr }, res.data.result as MatrixSeries[]));
    }
    data.set(panel.id, panelData);
  }
  return data;
}

/** Full-page screenshot of `html` in headless Chromium, with a profile of its own. */
async function screenshot(html: string, png: string): Promise<void> {
  await withChromiumPage(
    async (page) => {
      await page.goto(pathToFileURL(html).href, { waitUntil: "load" });
      await page.evaluate("document.fonts.ready");
      mkdirSync(dirname(png), { recursive: true });
      await page.screenshot({ path: png, fullPage: true });
    },
    { viewport: { width: VIEWPORT_WIDTH, height: 1000 } },
  );
}

/** A recorded run: what the page is drawn from, saved as reports/dashboard/<time>.json. */
interface SavedRun {
  dashboard: string;
  from: number;
  to: number;
  stepSeconds: number;
  scrapeIntervalSeconds: number;
  scenario: string;
  variables: Record<string, string>;
  k6: { exitCode: number | null; sent: number; delivered: number; missed: number };
  /** The lines under the notice. */
  details: string[];
  annotations: Annotation[];
  panels: { id: number; title: string; unit: string; targets: (PanelTarget & { evaluated: string })[]; series: Series[]; errors: string[] }[];
}

/** Starts the cluster and Prometheus, runs the load, evaluates the dashboard; stops everything. */
async function record(dashboard: Dashboard): Promise<SavedRun> {
  const mongoUrl = process.env.MONGO_URL ? withDatabase(process.env.MONGO_URL, `dashboard_${Date.now()}`) : undefined;
  log(`starting the cluster under ${relative(ROOT, runDir)}…`);
  cluster = await startCluster({
    dir: runDir,
    gateways: 2,
    jwtSecret: randomBytes(32).toString("base64url"),
    logLevel: "warn",
    ...(mongoUrl ? { mongoUrl } : {}),
    // k6 registers every user from this machine.
    env: { ...ONE_ADDRESS_LIMITS },
    // k6 opens every socket and request from 127.0.0.1.
    nginxLimits: LOAD_GENERATOR_NGINX_LIMITS,
  });
  prometheus = await startPrometheus({ dir: join(runDir, "prometheus"), jobs: clusterScrapeJobs(cluster), scrapeIntervalSeconds: SCRAPE_SECONDS });
  await prometheus.waitForScrapes(2);
  log(`Prometheus ${prometheus.url} scrapes ${cluster.gateways.length + 2} processes every ${SCRAPE_SECONDS}s`);
  const from = Math.floor(Date.now() / 1000 / STEP_SECONDS) * STEP_SECONDS;
  await delay(LEAD_SECONDS * 1000);

  const shape = SHAPE.filter((name) => variables.has(name)).map((name) => `${name}=${variables.get(name)}`);
  log(`k6 ${args.scenario} ${shape.join(" ")}`);
  const annotations: Annotation[] = [{ time: Date.now() / 1000, text: "k6 start" }];
  const k6 = runK6({
    scenario: scenarioFile,
    env: { TARGET: cluster.url, API_URL: cluster.url, SOCKET_URL: cluster.url, ...k6Env },
    summaryFile: join(runDir, "k6-summary.json"),
    logFile: join(runDir, "k6.log"),
  });
  stopK6 = () => k6.process.stop();
  const server = prometheus;
  const ticker = setInterval(() => {
    void server.query("sum(parley_gateway_connected_sockets)").then(
      (res) => log(`${(res.data?.result as { value: [number, string] }[] | undefined)?.[0]?.value[1] ?? "?"} sockets connected`),
      () => {},
    );
  }, 15_000);
  const outcome = await k6.done.finally(() => clearInterval(ticker));
  stopK6 = undefined;
  annotations.push({ time: Date.now() / 1000, text: "k6 end" });
  const { summary } = outcome;
  log(
    `k6 exited ${outcome.exitCode}${outcome.thresholdsFailed ? " (a threshold failed)" : ""}` +
      (summary.sent > 0 ? `: sent ${summary.sent}, delivered ${summary.delivered}, missed ${summary.missed}, delivery p99 ${summary.delivery?.["p(99)"].toFixed(0)} ms` : ""),
  );
  log(`idling ${idleSeconds}s`);
  await delay(idleSeconds * 1000);
  const to = Math.ceil(Date.now() / 1000 / STEP_SECONDS) * STEP_SECONDS;

  const data = await evaluate(prometheus, dashboard.panels, from, to);
  const build = (await prometheus.query("prometheus_build_info").catch(() => undefined))?.data?.result as { metric: { version?: string } }[] | undefined;
  await stopAll();

  const k6Line =
    `Load: k6 ${args.scenario} (load-tests/scenarios/${args.scenario}.js), ${shape.join(", ")}; exit ${outcome.exitCode}` +
    (summary.sent > 0
      ? `; sent ${summary.sent}, delivered ${summary.delivered}, missed ${summary.missed}, delivery p50/p99 ${summary.delivery?.med.toFixed(0)}/${summary.delivery?.["p(99)"].toFixed(0)} ms at the receivers`
      : "");
  const setupLine =
    `Cluster: nginx, 2 gateways on the Redis adapter, the API, the worker, Redis and ${mongoUrl ? "MongoDB" : "FerretDB"} on one machine. ` +
    `Prometheus ${build?.[0]?.metric.version ?? ""} scraping every ${SCRAPE_SECONDS}s; range queries with step ${STEP_SECONDS}s, ` +
    `$__rate_interval = ${promDuration(rateIntervalSeconds(QUERY_CONTEXT))}. Dashed lines: when k6 started and ended.`;
  return {
    dashboard: dashboard.title,
    from,
    to,
    stepSeconds: STEP_SECONDS,
    scrapeIntervalSeconds: SCRAPE_SECONDS,
    scenario: args.scenario,
    variables: Object.fromEntries(variables),
    k6: { exitCode: outcome.exitCode, sent: summary.sent, delivered: summary.delivered, missed: summary.missed },
    details: [k6Line, setupLine],
    annotations,
    panels: dashboard.panels
      .filter((p) => p.type !== "row")
      .map((p) => ({
        id: p.id,
        title: p.title,
        unit: p.unit,
        targets: p.targets.map((t) => ({ ...t, evaluated: substituteVariables(t.expr, QUERY_CONTEXT) })),
        ...(data.get(p.id) ?? { series: [], errors: [] }),
      })),
  };
}

/** Draws a run into `<name>.html` next to its JSON and screenshots it; prints each panel's outcome. Returns the empty panels that must not be. */
async function draw(dashboard: Dashboard, run: SavedRun, name: string): Promise<string[]> {
  const data = new Map<number, PanelData>(run.panels.map((p) => [p.id, { series: p.series, errors: p.errors }]));
  const html = renderDashboardHtml({
    dashboard,
    data,
    from: run.from,
    to: run.to,
    stepSeconds: run.stepSeconds,
    width: VIEWPORT_WIDTH - 32,
    notice:
      "Not Grafana: parley's scripts/dashboard.ts drew this page. It evaluated every panel query of the Grafana dashboard " +
      "infra/grafana/dashboards/parley-overview.json on a real Prometheus that scraped the cluster during a load run, " +
      "and laid the panels out with the dashboard's titles, grid, units and legends.",
    details: run.details,
    annotations: run.annotations,
  });
  mkdirSync(REPORTS_DIR, { recursive: true });
  const htmlFile = join(REPORTS_DIR, `${name}.html`);
  writeFileSync(htmlFile, html);
  log(`page ${relative(ROOT, htmlFile)}`);
  await screenshot(htmlFile, out);
  log(`screenshot ${relative(ROOT, out)} (${Math.round(statSync(out).size / 1024)} KB)`);

  const required = [...ALWAYS_FILLED, ...(run.scenario === "connect" ? [] : FILLED_BY_MESSAGES)];
  const empty = required.filter((pattern) => !dashboard.panels.some((p) => pattern.test(p.title))).map((pattern) => `no panel titled ${pattern.source} in the dashboard`);
  const width = Math.max(...dashboard.panels.map((p) => p.title.length));
  console.log(`\n${"panel".padEnd(width)}  series  max`);
  for (const panel of dashboard.panels) {
    if (panel.type === "row") continue;
    const s = summarisePanel(panel, data.get(panel.id));
    if (required.some((pattern) => pattern.test(panel.title)) && s.seriesWithValues === 0) empty.push(panel.title);
    console.log(`${panel.title.padEnd(width)}  ${String(s.series).padStart(6)}  ${s.maxText}${s.errors.length > 0 ? `  ERROR ${s.errors.join("; ")}` : ""}`);
  }
  return empty;
}

try {
  const dashboard = parseDashboard(JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")));
  let run: SavedRun;
  let name = stamp;
  if (args.redraw) {
    run = JSON.parse(readFileSync(args.redraw, "utf8")) as SavedRun;
    name = basename(args.redraw, ".json");
  } else {
    run = await record(dashboard);
    mkdirSync(REPORTS_DIR, { recursive: true });
    const jsonFile = join(REPORTS_DIR, `${name}.json`);
    writeFileSync(jsonFile, `${JSON.stringify(run)}\n`);
    log(`series ${relative(ROOT, jsonFile)}`);
  }
  const empty = await draw(dashboard, run, name);
  if (empty.length > 0) {
    console.error(`\nEmpty under load: ${empty.join(", ")}`);
    process.exit(1);
  }
  if (run.k6.exitCode !== 0 && run.k6.exitCode !== 99) {
    console.error(`\nk6 failed (exit ${run.k6.exitCode}): see its log under ${relative(ROOT, join(RUN_DIR, "dashboard"))}`);
    process.exit(1);
  }
} catch (err) {
  console.error(`dashboard run failed: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll();
  process.exit(1);
}
