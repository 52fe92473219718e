/**
 * Scrapes the services' `/metrics` every second during a run and keeps the series the benchmark
 * reads: sockets, sends, heap and RSS of the gateways; persistence lag, queue depth and stored
 * messages of the worker.
 */
import { scrape, type Sample } from "./prometheus.js";

/** The metric families kept from each scrape (everything else is dropped at once). */
const KEPT = [
  "parley_gateway_connected_sockets",
  "parley_gateway_events_received_total",
  "parley_gateway_delivery_latency_seconds_bucket",
  "nodejs_heap_size_used_bytes",
  "process_resident_memory_bytes",
  "nodejs_eventloop_lag_p99_seconds",
  "parley_worker_persist_lag_seconds_bucket",
  "parley_worker_batch_size_sum",
  "parley_worker_batch_size_count",
  "parley_queue_jobs",
];

/** One round of scrapes: every endpoint's kept samples, by endpoint name. */
export interface Scrape {
  at: number;
  by: Map<string, Sample[]>;
}

export class MetricsSampler {
  readonly scrapes: Scrape[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly endpoints: readonly { name: string; url: string }[],
    private readonly intervalMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.round();
    this.timer = setInterval(() => {
      // Never two rounds at once: a scrape slowed by a saturated machine is skipped, not stacked.
      this.inFlight ??= this.round().finally(() => (this.inFlight = undefined));
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
    await this.round();
  }

  private async round(): Promise<void> {
    const at = Date.now();
    const by = new Map<string, Sample[]>();
    await Promise.all(
      this.endpoints.map(async ({ name, url }) => {
        try {
          by.set(name, (await scrape(url)).filter((s) => KEPT.includes(s.name)));
        } catch {
          // A missed scrape (the process is busy or restarting) leaves a gap, not a zero.
        }
      }),
    );
    this.scrapes.push({ at, by });
  }
}
