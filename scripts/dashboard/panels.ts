/**
 * A Grafana dashboard's JSON read the way Grafana reads it, for `npm run dashboard`: its panels with
 * their place on the 24-column grid, queries, unit and legend; Grafana's interval variables in the
 * queries; and legends of Prometheus series from `legendFormat`.
 */
import { z } from "zod";

/** A panel's place on Grafana's grid: 24 columns, rows of one cell height. */
export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One query of a panel. */
export interface PanelTarget {
  refId: string;
  expr: string;
  /** `{{label}}` templates; empty: Grafana's default name of the series. */
  legendFormat: string;
}

export interface Panel {
  id: number;
  /** `row` (a section header), `timeseries`, or another Grafana panel type (drawn as a time series). */
  type: string;
  title: string;
  description: string;
  gridPos: GridPos;
  /** `fieldConfig.defaults.unit`. @default "short" */
  unit: string;
  /** @default 1 */
  lineWidth: number;
  /** Opacity of the area under each line, 0..100. @default 0 */
  fillOpacity: number;
  /** Reductions shown as columns of a table legend (`lastNotNull`, `max`, …). */
  legendCalcs: string[];
  /** Queries with an `expr`, in the panel's order; hidden ones (`hide: true`) left out, as Grafana does. */
  targets: PanelTarget[];
}

export interface Dashboard {
  title: string;
  /** Every panel, rows included, the panels of collapsed rows too, top to bottom then left to right. */
  panels: Panel[];
}

const gridPosSchema = z.object({ x: z.number().int().min(0).max(23), y: z.number().int().min(0), w: z.number().int().min(1).max(24), h: z.number().int().min(1) });

interface RawPanel {
  id: number;
  type: string;
  title?: string | undefined;
  description?: string | undefined;
  gridPos: GridPos;
  fieldConfig?: { defaults?: { unit?: string | undefined; custom?: { lineWidth?: number | undefined; fillOpacity?: number | undefined } | undefined } | undefined } | undefined;
  options?: { legend?: { calcs?: string[] | undefined } | undefined } | undefined;
  targets?: { refId?: string | undefined; expr?: string | undefined; legendFormat?: string | undefined; hide?: boolean | undefined }[] | undefined;
  panels?: RawPanel[] | undefined;
}

const panelSchema: z.ZodType<RawPanel> = z.lazy(() =>
  z.object({
    id: z.number().int(),
    type: z.string(),
    title: z.string().optional(),
    description: z.string().optional(),
    gridPos: gridPosSchema,
    fieldConfig: z
      .object({
        defaults: z
          .object({
            unit: z.string().optional(),
            custom: z.object({ lineWidth: z.number().min(0).optional(), fillOpacity: z.number().min(0).max(100).optional() }).optional(),
          })
          .optional(),
      })
      .optional(),
    options: z.object({ legend: z.object({ calcs: z.array(z.string()).optional() }).optional() }).optional(),
    targets: z
      .array(z.object({ refId: z.string().optional(), expr: z.string().optional(), legendFormat: z.string().optional(), hide: z.boolean().optional() }))
      .optional(),
    panels: z.array(panelSchema).optional(),
  }),
);

const dashboardSchema = z.object({ title: z.string(), panels: z.array(panelSchema) });

function toPanel(raw: RawPanel): Panel {
  const defaults = raw.fieldConfig?.defaults;
  return {
    id: raw.id,
    type: raw.type,
    title: raw.title ?? "",
    description: raw.description ?? "",
    gridPos: raw.gridPos,
    unit: defaults?.unit || "short",
    lineWidth: defaults?.custom?.lineWidth ?? 1,
    fillOpacity: defaults?.custom?.fillOpacity ?? 0,
    legendCalcs: raw.options?.legend?.calcs ?? [],
    targets: (raw.targets ?? [])
      .filter((t) => !t.hide && t.expr)
      .map((t, i) => ({ refId: t.refId ?? String.fromCharCode(65 + i), expr: t.expr!, legendFormat: t.legendFormat ?? "" })),
  };
}

/** Reads a dashboard's JSON (as exported by Grafana or provisioned from a file); throws naming what is wrong. */
export function parseDashboard(json: unknown): Dashboard {
  const parsed = dashboardSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`not a Grafana dashboard:\n${parsed.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`).join("\n")}`);
  }
  // A collapsed row keeps its panels inside itself; an expanded one has them after it, on the grid.
  const panels = parsed.data.panels.flatMap((raw) => [toPanel(raw), ...(raw.panels ?? []).map(toPanel)]);
  panels.sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  return { title: parsed.data.title, panels };
}

/** What Grafana's interval variables stand for in one evaluation of the dashboard. */
export interface IntervalContext {
  /** Prometheus's scrape interval (the data source's "scrape interval" setting in Grafana). */
  scrapeIntervalSeconds: number;
  /** Step of the range query: Grafana's `$__interval`. */
  stepSeconds: number;
}

/**
 * `$__rate_interval` as Grafana computes it: `max($__interval + scrape interval, 4 × scrape interval)`,
 * long enough for `rate()` to see at least four samples whatever the step.
 */
export function rateIntervalSeconds({ scrapeIntervalSeconds, stepSeconds }: IntervalContext): number {
  return Math.max(stepSeconds + scrapeIntervalSeconds, 4 * scrapeIntervalSeconds);
}

/** A PromQL duration: whole seconds as `8s`, anything finer in milliseconds. */
export function promDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

/** `$name` or `${name}`, not followed by more of a name (`$__interval` is not the start of `$__interval_ms`). */
function variable(name: string): RegExp {
  return new RegExp(`\\$(?:\\{${name}\\}|${name}(?![A-Za-z0-9_]))`, "g");
}

/** Replaces Grafana's interval variables in a query (`$__rate_interval`, `$__interval`, `$__interval_ms`). */
export function substituteVariables(expr: string, context: IntervalContext): string {
  return expr
    .replace(variable("__rate_interval"), promDuration(rateIntervalSeconds(context)))
    .replace(variable("__interval_ms"), String(Math.round(context.stepSeconds * 1000)))
    .replace(variable("__interval"), promDuration(context.stepSeconds));
}

/** Dashboard variables left in a query after {@link substituteVariables}: ones this renderer cannot fill. */
export function unresolvedVariables(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set(code.match(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g) ?? [])];
}

/**
 * A series' name in the legend, as Grafana's Prometheus data source makes it: `{{label}}` replaced by
 * the label's value (empty when the series lacks it); without a format, `metric{label="value", …}`,
 * or the query itself for a series without any label.
 */
export function formatLegend(legendFormat: string, labels: Readonly<Record<string, string>>, expr = ""): string {
  if (legendFormat && legendFormat !== "__auto") {
    return legendFormat.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, name: string) => labels[name] ?? "");
  }
  const { __name__: name = "", ...rest } = labels;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}="${v}"`);
  if (!name && pairs.length === 0) return expr;
  return `${name}{${pairs.join(", ")}}`;
}

/** One series of a panel, ready to draw: its legend, and `[unix seconds, value]` points (NaN kept). */
export interface Series {
  refId: string;
  name: string;
  labels: Record<string, string>;
  points: [number, number][];
}

/** A panel's evaluated queries: its series, and the error of each query that failed. */
export interface PanelData {
  series: Series[];
  errors: string[];
}

/** One series of a Prometheus range query's `matrix` result. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Prometheus's sample values are strings (`"1.5"`, `"NaN"`, `"+Inf"`). */
function sampleValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** A range query's result as the series of one panel target, named by its legend. */
export function toSeries(target: PanelTarget, matrix: readonly MatrixSeries[]): Series[] {
  return matrix.map((s) => ({
    refId: target.refId,
    name: formatLegend(target.legendFormat, s.metric, target.expr),
    labels: s.metric,
    points: s.values.map(([t, v]): [number, number] => [t, sampleValue(v)]),
  }));
}

/** The finite values of a series. */
export function finiteValues(series: Series): number[] {
  return series.points.map(([, v]) => v).filter(Number.isFinite);
}

/**
 * A legend reduction of a series, like Grafana's: `lastNotNull`, `last`, `max`, `min`, `mean`, `sum`
 * over its finite values (NaN, a histogram quantile of nothing, counts as null); undefined without any.
 */
export function reduceSeries(series: Series, calc: string): number | undefined {
  const values = finiteValues(series);
  if (calc === "last") {
    const last = series.points.at(-1)?.[1];
    return last !== undefined && Number.isFinite(last) ? last : undefined;
  }
  if (values.length === 0) return undefined;
  switch (calc) {
    case "lastNotNull":
      return values.at(-1);
    case "max":
      return Math.max(...values);
    case "min":
      return Math.min(...values);
    case "mean":
      return values.reduce((a, b) => a + b, 0) / values.length;
    case "sum":
      return values.reduce((a, b) => a + b, 0);
    default:
      return undefined;
  }
}

/** Grafana's column headers for legend reductions. */
export const CALC_LABELS: Readonly<Record<string, string>> = {
  lastNotNull: "Last *",
  last: "Last",
  max: "Max",
  min: "Min",
  mean: "Mean",
  sum: "Total",
};
