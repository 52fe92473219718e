/**
 * One load run: the `chat` scenario against a started target, with every process sampled, and the
 * figures of the report computed over the steady window (the scenario's send window, as the gateways
 * count sends, less its first two seconds).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import { runK6, type ChatSummary } from "./k6.js";
import { ProcessSampler, type UsageReport } from "./proc.js";
import { bucketDelta, buckets, histogramQuantile, sum, type Sample } from "./prometheus.js";
import { MetricsSampler, type Scrape } from "./service-metrics.js";
import type { RunningTarget } from "./targets.js";

/** The `chat` workload: CONVERSATIONS × MEMBERS sockets, each member sending RATE msgs/s. */
export interface ChatLoad {
  conversations: number;
  members: number;
  /** Messages per second per member. */
  rate: number;
  /** Send window after the ramp, seconds. */
  duration: number;
  /** Sockets connect evenly over it, seconds. */
  ramp: number;
}

/** Offered sends per second. */
export function offeredRate(load: ChatLoad): number {
  return load.conversations * load.members * load.rate;
}

export function describeLoad(load: ChatLoad): string {
  return `${load.conversations} conversations × ${load.members} members × ${load.rate} msgs/s, ${load.duration} s (+${load.ramp} s ramp)`;
}

/** Everything measured in one run. */
export interface RunResult {
  target: string;
  label: string;
  load: ChatLoad;
  /** Offered sends/s (CONVERSATIONS × MEMBERS × RATE). */
  offeredPerSecond: number;
  /** The steady window, seconds. */
  windowSeconds: number;
  /** Sockets held during the window (sum over gateways, mean of the scrapes). */
  sockets: number;
  /** Sends accepted by the gateways per second in the window. */
  sentPerSecond: number;
  /** message:new received by the load generator per second in the window (see {@link deliveredPerSecond}). */
  deliveredPerSecond: number;
  /** Delivery latency at the receivers, ms (k6, whole run). */
  delivery: { p50: number; p95: number; p99: number; max: number } | undefined;
  ackP99: number | undefined;
  /** parley_worker_persist_lag_seconds p99 over the window, seconds (targets that persist through the worker). */
  persistLagP99: number | undefined;
  /** Messages stored by the worker per second in the window. */
  storedPerSecond: number | undefined;
  /** Persist queue (waiting + active) at each scrape of the window: [seconds into the window, jobs]. */
  queue: [number, number][] | undefined;
  /** Seconds the persist queue took to empty after the load generator finished (undefined: not within 2 min). */
  drainSeconds?: number | undefined;
  /** Gateways: heap used and RSS at the scrape with the most sockets, summed, and over the sockets held. */
  gatewayHeapBytes: number;
  gatewayRssBytes: number;
  heapPerSocketBytes: number;
  rssPerSocketBytes: number;
  /** Highest event-loop lag p99 of any gateway in the window, seconds. */
  eventLoopLagP99: number;
  usage: UsageReport;
  /** Validity: the load generator used under half the machine, and the machine was not saturated. */
  k6CpuShareOfMachine: number;
  valid: boolean;
  invalidReasons: string[];
  k6: { exitCode: number | null; thresholdsFailed: boolean; summary: Omit<ChatSummary, "raw">; raw: ChatSummary["raw"] };
}

export interface RunOptions {
  scenario: string;
  dir: string;
  /** Extra k6 environment (DELIVERY_P99_MS…). */
  env?: Record<string, string>;
  /** Machine cores (`nproc`). */
  cores: number;
  /** Called every few seconds with a progress line. */
  progress?: (line: string) => void;
}

/** The machine counts as saturated above this busy share over the window. */
const SATURATED_PERCENT = 95;

export async function runChat(target: RunningTarget, load: ChatLoad, name: string, options: RunOptions): Promise<RunResult> {
  const dir = join(options.dir, name);
  mkdirSync(dir, { recursive: true });
  const endpoints = [...target.gatewayMetrics, ...(target.workerMetrics ? [{ name: "worker", url: target.workerMetrics }] : [])];
  const metrics = new MetricsSampler(endpoints);
  await metrics.start();
  const watched = [...target.processes];
  const processes = new ProcessSampler(() => watched);
  processes.start();

  const k6 = runK6({
    scenario: options.scenario,
    env: {
      TARGET: target.apiUrl,
      API_URL: target.apiUrl,
      SOCKET_URL: target.socketUrl,
      CONVERSATIONS: String(load.conversations),
      MEMBERS: String(load.members),
      RATE: String(load.rate),
      DURATION: `${load.duration}s`,
      RAMP: `${load.ramp}s`,
      ...options.env,
    },
    summaryFile: join(dir, "k6-summary.json"),
    logFile: join(dir, "k6.log"),
  });
  if (k6.process.pid) watched.push({ name: "k6", pid: k6.process.pid });
  const ticker = setInterval(() => {
    const last = metrics.scrapes.at(-1);
    if (!last) return;
    const sockets = gatewaySum(last, target, "parley_gateway_connected_sockets");
    const sends = gatewaySum(last, target, "parley_gateway_events_received_total", { event: "message:send" });
    options.progress?.(`${name}: ${sockets} sockets, ${sends} sends`);
  }, 10_000);
  let outcome;
  let drainSeconds: number | undefined;
  try {
    outcome = await k6.done;
    if (target.workerMetrics) drainSeconds = await waitForEmptyQueue(metrics, 120_000);
  } finally {
    clearInterval(ticker);
    processes.stop();
    await metrics.stop();
  }
  return { ...summarise(target, load, name, outcome, processes, metrics.scrapes, options.cores), drainSeconds };
}

/** The persist queue's waiting + active jobs in a scrape of the worker. */
function queueDepth(scrape: Scrape): number | undefined {
  const worker = scrape.by.get("worker");
  if (!worker) return undefined;
  return sum(worker, "parley_queue_jobs", { queue: "persist", state: "waiting" }) + sum(worker, "parley_queue_jobs", { queue: "persist", state: "active" });
}

/** Waits until the worker's scrapes show an empty persist queue; resolves with the seconds it took. */
async function waitForEmptyQueue(metrics: MetricsSampler, timeoutMs: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const last = metrics.scrapes.at(-1);
    if (last && last.at > started && queueDepth(last) === 0) return (last.at - started) / 1000;
    await delay(500);
  }
  return undefined;
}

function gatewaySum(scrape: Scrape, target: RunningTarget, metric: string, labels: Record<string, string> = {}): number {
  return target.gatewayMetrics.reduce((total, g) => total + sum(scrape.by.get(g.name) ?? [], metric, labels), 0);
}

function summarise(
  target: RunningTarget,
  load: ChatLoad,
  name: string,
  outcome: Awaited<ReturnType<typeof runK6>["done"]>,
  processes: ProcessSampler,
  scrapes: readonly Scrape[],
  cores: number,
): RunResult {
  // The steady window: the scenario sends only after its ramp, every member at a random phase of its
  // period; skip the first two seconds of sending, and end at the scrape where sends stopped growing.
  const complete = scrapes.filter((s) => target.gatewayMetrics.every((g) => s.by.has(g.name)));
  const sends = complete.map((s) => ({ at: s.at, n: gatewaySum(s, target, "parley_gateway_events_received_total", { event: "message:send" }) }));
  const initial = sends[0]?.n ?? 0;
  const final = sends.at(-1)?.n ?? 0;
  const firstSend = sends.find((s) => s.n > initial)?.at ?? sends[0]?.at ?? Date.now();
  const lastSend = sends.find((s) => s.n >= final)?.at ?? Date.now();
  let from = firstSend + 2_000;
  if (lastSend - from < 5_000) from = firstSend;
  const inWindow = complete.filter((s) => s.at >= from && s.at <= lastSend);
  const window = inWindow.length >= 2 ? inWindow : complete;
  const start = window[0]!;
  const end = window.at(-1)!;
  const windowSeconds = Math.max((end.at - start.at) / 1000, 1e-9);
  const sendsIn = (s: Scrape) => gatewaySum(s, target, "parley_gateway_events_received_total", { event: "message:send" });
  const sentPerSecond = (sendsIn(end) - sendsIn(start)) / windowSeconds;
  const { summary } = outcome;
  // k6 counts deliveries over the whole run: scale its delivered/sent ratio to the window's send rate.
  const deliveredPerSecond = summary.sent > 0 ? (sentPerSecond * summary.delivered) / summary.sent : 0;

  let peak = start;
  for (const s of window) if (gatewaySum(s, target, "parley_gateway_connected_sockets") > gatewaySum(peak, target, "parley_gateway_connected_sockets")) peak = s;
  const sockets = window.reduce((total, s) => total + gatewaySum(s, target, "parley_gateway_connected_sockets"), 0) / window.length;
  const peakSockets = Math.max(1, gatewaySum(peak, target, "parley_gateway_connected_sockets"));
  const gatewayHeapBytes = gatewaySum(peak, target, "nodejs_heap_size_used_bytes");
  const gatewayRssBytes = gatewaySum(peak, target, "process_resident_memory_bytes");
  const eventLoopLagP99 = Math.max(
    0,
    ...window.flatMap((s) => target.gatewayMetrics.map((g) => sum(s.by.get(g.name) ?? [], "nodejs_eventloop_lag_p99_seconds"))),
  );

  let persistLagP99: number | undefined;
  let storedPerSecond: number | undefined;
  let queue: [number, number][] | undefined;
  if (target.workerMetrics) {
    const worker = (s: Scrape): Sample[] => s.by.get("worker") ?? [];
    const withWorker = complete.filter((s) => s.by.has("worker"));
    // The lag of the window's messages: until the worker caught up after the last send.
    const lagEnd = withWorker.at(-1) ?? end;
    const lagStart = withWorker.find((s) => s.at >= start.at) ?? start;
    persistLagP99 = histogramQuantile(
      0.99,
      bucketDelta(buckets(worker(lagStart), "parley_worker_persist_lag_seconds"), buckets(worker(lagEnd), "parley_worker_persist_lag_seconds")),
    );
    const workerEnd = withWorker.filter((s) => s.at <= end.at).at(-1) ?? end;
    storedPerSecond =
      (sum(worker(workerEnd), "parley_worker_batch_size_sum", { kind: "message" }) - sum(worker(lagStart), "parley_worker_batch_size_sum", { kind: "message" })) /
      Math.max((workerEnd.at - lagStart.at) / 1000, 1e-9);
    queue = withWorker
      .filter((s) => s.at >= start.at && s.at <= end.at)
      .map((s) => [
        Math.round((s.at - start.at) / 1000),
        queueDepth(s) ?? 0,
      ]);
  }

  const usage = processes.usage(start.at, end.at);
  const k6Cpu = usage.processes.k6?.cpuPercent ?? 0;
  const k6CpuShareOfMachine = k6Cpu / (100 * cores);
  const invalidReasons: string[] = [];
  if (k6CpuShareOfMachine >= 0.5) invalidReasons.push(`k6 used ${(100 * k6CpuShareOfMachine).toFixed(0)} % of the machine (limit: under 50 %)`);
  if (usage.machineBusyPercent >= SATURATED_PERCENT) invalidReasons.push(`machine ${usage.machineBusyPercent.toFixed(0)} % busy (saturated at ${SATURATED_PERCENT} %)`);

  const trend = summary.delivery;
  const { raw, ...rest } = summary;
  return {
    target: target.id,
    label: name,
    load,
    offeredPerSecond: offeredRate(load),
    windowSeconds,
    sockets,
    sentPerSecond,
    deliveredPerSecond,
    delivery: trend ? { p50: trend.med, p95: trend["p(95)"], p99: trend["p(99)"], max: trend.max } : undefined,
    ackP99: summary.ack?.["p(99)"],
    persistLagP99,
    storedPerSecond,
    queue,
    gatewayHeapBytes,
    gatewayRssBytes,
    heapPerSocketBytes: gatewayHeapBytes / peakSockets,
    rssPerSocketBytes: gatewayRssBytes / peakSockets,
    eventLoopLagP99,
    usage,
    k6CpuShareOfMachine,
    valid: invalidReasons.length === 0,
    invalidReasons,
    k6: { exitCode: outcome.exitCode, thresholdsFailed: outcome.thresholdsFailed, summary: rest, raw },
  };
}
