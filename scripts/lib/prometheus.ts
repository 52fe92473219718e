/**
 * A private Prometheus server (Debian's package `prometheus`, the same one as promtool) scraping the
 * processes of a local cluster, with the jobs of infra/prometheus/prometheus.yml (`gateway`, `api`,
 * `worker`) and its alert rules. `npm run dashboard` evaluates the Grafana dashboard's queries on
 * it, and test/deploy/dashboard-metrics.test.ts checks that every one of them is valid PromQL.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { stringify } from "yaml";

import type { Cluster } from "./cluster.js";
import { ROOT } from "./paths.js";
import { freePort } from "./ports.js";
import { ManagedProcess, isOk } from "./process.js";

export const PROMETHEUS_BINARY = "/usr/bin/prometheus";
/** The alert rules deployments load (infra/prometheus/alerts.yml). */
export const ALERT_RULES = join(ROOT, "infra", "prometheus", "alerts.yml");

/** A scrape job: its name (the `job` label the dashboards group by) and its `host:port` targets. */
export interface ScrapeJob {
  job: string;
  targets: string[];
}

/** The metrics endpoints of a cluster's processes, in the jobs of infra/prometheus/prometheus.yml. */
export function clusterScrapeJobs(cluster: Pick<Cluster, "gateways" | "api" | "worker">): ScrapeJob[] {
  const target = (s: { metricsPort: number }) => `127.0.0.1:${s.metricsPort}`;
  return [
    { job: "gateway", targets: cluster.gateways.map(target) },
    { job: "api", targets: [target(cluster.api)] },
    { job: "worker", targets: [target(cluster.worker)] },
  ];
}

/**
 * prometheus.yml with static targets. The `node` label every parley series carries comes from the
 * processes themselves; Prometheus adds `job` and `instance`.
 */
export function renderPrometheusConfig(jobs: readonly ScrapeJob[], options: { scrapeIntervalSeconds: number; ruleFiles: readonly string[] }): string {
  const interval = `${options.scrapeIntervalSeconds}s`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [...options.ruleFiles],
    scrape_configs: jobs.map((j) => ({ job_name: j.job, static_configs: [{ targets: j.targets }] })),
  });
}

/** A response of Prometheus's HTTP API. */
export interface PromResponse<T> {
  status: "success" | "error";
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** `resultType` and `result` of a query. */
export interface QueryData {
  resultType: "matrix" | "vector" | "scalar" | "string";
  result: unknown;
}

export interface PrometheusOptions {
  /** Config, TSDB and log. */
  dir: string;
  jobs: readonly ScrapeJob[];
  /** @default 2 */
  scrapeIntervalSeconds?: number;
  /** @default [ALERT_RULES] */
  ruleFiles?: readonly string[];
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  process: ManagedProcess;
  scrapeIntervalSeconds: number;
  /** Instant query (`/api/v1/query`); the answer as it is, an error status included. */
  query(expr: string, time?: number): Promise<PromResponse<QueryData>>;
  /** Range query (`/api/v1/query_range`), times in unix seconds. */
  queryRange(expr: string, range: { start: number; end: number; stepSeconds: number }): Promise<PromResponse<QueryData>>;
  /** Resolves once every target has been scraped successfully, `scrapes` times at least. */
  waitForScrapes(scrapes?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface TargetsData {
  activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
}

/** Starts Prometheus on a free port of 127.0.0.1 and waits until it is ready. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 2;
  mkdirSync(options.dir, { recursive: true });
  const configFile = join(options.dir, "prometheus.yml");
  writeFileSync(configFile, renderPrometheusConfig(options.jobs, { scrapeIntervalSeconds, ruleFiles: options.ruleFiles ?? [ALERT_RULES] }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: `prometheus :${port}`,
    command: PROMETHEUS_BINARY,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(options.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    logFile: join(options.dir, "prometheus.log"),
  });
  try {
    await proc.waitUntil(() => isOk(`${url}/-/ready`), 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }

  async function api<T>(path: string, params: Record<string, string>): Promise<PromResponse<T>> {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(30_000) });
    // A bad query answers 400 or 422 with a JSON body: the caller reads the error from it.
    return (await res.json()) as PromResponse<T>;
  }

  return {
    url,
    process: proc,
    scrapeIntervalSeconds,
    query: (expr, time) => api<QueryData>("/api/v1/query", { query: expr, ...(time === undefined ? {} : { time: String(time) }) }),
    queryRange: (expr, { start, end, stepSeconds }) =>
      api<QueryData>("/api/v1/query_range", { query: expr, start: String(start), end: String(end), step: String(stepSeconds) }),
    async waitForScrapes(scrapes = 1, timeoutMs = 60_000) {
      let pending = "no target yet";
      let upSince: number | undefined;
      await proc
        .waitUntil(async () => {
          const targets = await api<TargetsData>("/api/v1/targets", { state: "active" });
          const active = targets.data?.activeTargets ?? [];
          const down = active.filter((t) => t.health !== "up");
          pending = active.length === 0 ? "no target yet" : down.map((t) => `${t.labels.job} ${t.labels.instance}: ${t.health} ${t.lastError}`).join("; ");
          if (active.length === 0 || down.length > 0) return false;
          upSince ??= Date.now();
          return Date.now() - upSince >= (scrapes - 1) * scrapeIntervalSeconds * 1000;
        }, timeoutMs, `scraping every target (${scrapes} scrapes)`)
        .catch((err: unknown) => {
          throw new Error(`${err instanceof Error ? err.message : String(err)}\nTargets: ${pending}`);
        });
    },
    stop: () => proc.stop(),
  };
}
