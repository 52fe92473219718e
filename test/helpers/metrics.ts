/** Reading prom-client metrics in tests. */

/** A metric as prom-client exposes it to code (`Counter`, `Gauge`, `Histogram`). */
export interface Sampled {
  get(): Promise<{ values: { value: number; labels: object; metricName?: string }[] }>;
}

/** One sample of a metric (counter, gauge, or a histogram's `_count`/`_sum` with `suffix`), 0 when absent. */
export async function sample(metric: Sampled, labels: Record<string, string> = {}, suffix?: "_count" | "_sum"): Promise<number> {
  const { values } = await metric.get();
  const found = values.find(
    (v) =>
      (suffix === undefined || v.metricName?.endsWith(suffix)) &&
      Object.entries(labels).every(([name, value]) => (v.labels as Record<string, unknown>)[name] === value),
  );
  return found?.value ?? 0;
}
