/**
 * The load generator: k6 (built by `npm run setup` into .cache/bin/k6) running a load-tests/ scenario,
 * its figures read back from `--summary-export`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { CACHE_DIR, ROOT } from "../lib/paths.js";
import { ManagedProcess } from "../lib/process.js";

export const K6_BINARY = join(CACHE_DIR, "bin", "k6");

/** Trend statistics asked of k6 (its default stops at p(95)). */
const TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)";

/** A k6 Trend in the summary export, in ms. */
export interface TrendStats {
  avg: number;
  min: number;
  med: number;
  max: number;
  "p(90)": number;
  "p(95)": number;
  "p(99)": number;
}

/** What the `chat` scenario reports (its contract with the benchmark). */
export interface ChatSummary {
  delivery: TrendStats | undefined;
  ack: TrendStats | undefined;
  sent: number;
  delivered: number;
  missed: number;
  /** Share of sends answered with an error or not at all, 0..1. */
  sendErrorRate: number;
  /** Every metric of the export, for the JSON report. */
  raw: Record<string, Record<string, number>>;
}

export interface K6Run {
  /** The k6 process, for the CPU sampler. */
  process: ManagedProcess;
  /** Resolves when k6 exits, with its summary. k6 exits 99 when a threshold failed: still a result. */
  done: Promise<{ exitCode: number | null; thresholdsFailed: boolean; summary: ChatSummary }>;
}

/**
 * Starts `k6 run <scenario>` with `env`. The summary is written to `summaryFile`, k6's own output to
 * `logFile`.
 */
export function runK6(options: { scenario: string; env: Record<string, string>; summaryFile: string; logFile: string }): K6Run {
  if (!existsSync(K6_BINARY)) throw new Error(`${K6_BINARY} is missing: run \`npm run setup -- --k6\` to build it`);
  const process_ = new ManagedProcess({
    name: "k6",
    command: K6_BINARY,
    args: ["run", "--quiet", "--no-usage-report", "--summary-trend-stats", TREND_STATS, "--summary-export", options.summaryFile, options.scenario],
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    logFile: options.logFile,
  });
  const done = process_.exited.then(({ code }) => {
    if (!existsSync(options.summaryFile)) {
      throw new Error(`k6 exited (${code}) without a summary:\n${process_.logTail(30)}`);
    }
    return { exitCode: code, thresholdsFailed: code === 99, summary: readChatSummary(options.summaryFile) };
  });
  return { process: process_, done };
}

/** Reads a `--summary-export` file of the `chat` scenario. */
export function readChatSummary(file: string): ChatSummary {
  const { metrics } = JSON.parse(readFileSync(file, "utf8")) as { metrics: Record<string, Record<string, number>> };
  const trend = (name: string) => (metrics[name] ? (metrics[name] as unknown as TrendStats) : undefined);
  const count = (name: string) => metrics[name]?.count ?? 0;
  const errors = metrics.send_errors;
  return {
    delivery: trend("delivery_latency"),
    ack: trend("ack_latency"),
    sent: count("messages_sent"),
    delivered: count("messages_delivered"),
    missed: count("missed"),
    sendErrorRate: errors?.value ?? (errors?.passes !== undefined ? errors.passes / Math.max(1, errors.passes + (errors.fails ?? 0)) : 0),
    raw: metrics,
  };
}
