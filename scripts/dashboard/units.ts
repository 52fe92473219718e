/**
 * Grafana's units for `npm run dashboard`: values written with the unit of a panel's `fieldConfig`
 * (`s`, `ms`, `bytes`, `ops`, `reqps`, `short`, …), and the ticks of a value axis and a time axis.
 */

/** A number with about three significant digits, without trailing zeros: 0.0123, 1.5, 12.3, 123. */
export function compactNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  const decimals = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)));
  const text = value.toFixed(decimals);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** Scales `value` by the first step of `steps` (largest first) that it reaches. */
function scaled(value: number, steps: readonly [number, string][], fallback: string): string {
  const abs = Math.abs(value);
  for (const [size, suffix] of steps) {
    if (abs >= size) return `${compactNumber(value / size)}${suffix}`;
  }
  return `${compactNumber(value)}${fallback}`;
}

/** Grafana's `short`: thousands as K, Mil, Bil, Tri. */
const SHORT: [number, string][] = [
  [1e12, " Tri"],
  [1e9, " Bil"],
  [1e6, " Mil"],
  [1e3, " K"],
];
const KIB = 1024;
const BYTES: [number, string][] = [
  [KIB ** 4, " TiB"],
  [KIB ** 3, " GiB"],
  [KIB ** 2, " MiB"],
  [KIB, " KiB"],
];
const DECIMAL_BYTES: [number, string][] = [
  [1e12, " TB"],
  [1e9, " GB"],
  [1e6, " MB"],
  [1e3, " kB"],
];

/** Seconds as Grafana writes a duration in unit `s`: µs, ms, s, min, hour, day. */
function seconds(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return "0 s";
  if (abs < 1e-3) return `${compactNumber(value * 1e6)} µs`;
  if (abs < 1) return `${compactNumber(value * 1e3)} ms`;
  if (abs < 60) return `${compactNumber(value)} s`;
  if (abs < 3600) return `${compactNumber(value / 60)} min`;
  if (abs < 86_400) return `${compactNumber(value / 3600)} hour`;
  return `${compactNumber(value / 86_400)} day`;
}

/** A value in a Grafana unit. Units this renderer does not know are written after a `short` number. */
export function formatValue(value: number, unit: string): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  switch (unit) {
    case "none":
      return compactNumber(value);
    case "short":
      return scaled(value, SHORT, "");
    case "s":
      return seconds(value);
    case "ms":
      return Math.abs(value) < 1 && value !== 0 ? `${compactNumber(value * 1e3)} µs` : Math.abs(value) < 1000 ? `${compactNumber(value)} ms` : seconds(value / 1e3);
    case "µs":
      return Math.abs(value) < 1000 ? `${compactNumber(value)} µs` : seconds(value / 1e6);
    case "bytes":
      return scaled(value, BYTES, " B");
    case "decbytes":
      return scaled(value, DECIMAL_BYTES, " B");
    case "ops":
      return `${scaled(value, SHORT, "")} ops/s`;
    case "reqps":
      return `${scaled(value, SHORT, "")} req/s`;
    case "percent":
      return `${compactNumber(value)}%`;
    case "percentunit":
      return `${compactNumber(value * 100)}%`;
    default:
      return `${scaled(value, SHORT, "")} ${unit}`;
  }
}

/** 1, 2 or 5 times a power of ten: the step of ticks for a range of `span` cut in about `count`. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

/** A value axis: its bounds and ticks. */
export interface ValueAxis {
  min: number;
  max: number;
  ticks: number[];
}

/**
 * The value axis of a panel over `values`: from 0 (or below it, for negative values) to a round top,
 * with about `count` round ticks. Byte axes tick on round KiB, MiB, GiB.
 */
export function valueAxis(values: readonly number[], unit: string, count = 5): ValueAxis {
  const finite = values.filter(Number.isFinite);
  let low = Math.min(0, ...finite);
  let high = Math.max(0, ...finite);
  if (high === low) high = low + 1;
  // Bytes: round in the binary unit the axis is written in, so ticks read 20 MiB, not 19.1 MiB.
  const scale = unit === "bytes" ? KIB ** Math.max(0, Math.floor(Math.log(Math.max(Math.abs(high), Math.abs(low))) / Math.log(KIB))) : 1;
  low /= scale;
  high /= scale;
  const step = niceStep(high - low, count);
  const min = Math.floor(low / step) * step;
  const max = Math.ceil(high / step) * step;
  const ticks: number[] = [];
  for (let tick = min; tick <= max + step / 2; tick += step) ticks.push(Number((tick * scale).toPrecision(12)));
  return { min: min * scale, max: max * scale, ticks };
}

/** Steps of a time axis, seconds. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400];

/** Round times (unix seconds) between `from` and `to`, at most `maxTicks` of them. */
export function timeTicks(from: number, to: number, maxTicks: number): number[] {
  const span = Math.max(1, to - from);
  const step = TIME_STEPS.find((s) => span / s <= Math.max(1, maxTicks)) ?? TIME_STEPS.at(-1)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/** A time axis label, UTC: `HH:MM:SS`, or `HH:MM` when the ticks fall on whole minutes. */
export function formatTime(unixSeconds: number, withSeconds: boolean): string {
  const iso = new Date(unixSeconds * 1000).toISOString();
  return withSeconds ? iso.slice(11, 19) : iso.slice(11, 16);
}
