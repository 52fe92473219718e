/**
 * A dashboard's panels and their evaluated series drawn as one self-contained HTML page in the look
 * of Grafana's dark theme, for `npm run dashboard` to screenshot: the panels where `gridPos` puts them
 * on Grafana's 24-column grid, row headers, time series as inline SVG with the panel's unit on the
 * axis, table legends with the panel's reductions, and "No data" where the queries found no series.
 * Nothing is loaded from elsewhere.
 */
import { CALC_LABELS, reduceSeries, finiteValues, type Dashboard, type Panel, type PanelData, type Series } from "./panels.js";
import { formatTime, formatValue, timeTicks, valueAxis } from "./units.js";

/** Grafana's grid: a cell is 30 px high, panels are 8 px apart. */
export const GRID_COLUMNS = 24;
export const GRID_CELL_HEIGHT = 30;
export const GRID_MARGIN = 8;

/** Grafana's classic palette, in the order it gives colours to a panel's series. */
export const PALETTE = [
  "#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0",
  "#37872D", "#FADE2A", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
] as const;

const THEME = {
  canvas: "#111217",
  panel: "#181b1f",
  border: "rgba(204, 204, 220, 0.12)",
  text: "#ccccdc",
  secondary: "rgba(204, 204, 220, 0.65)",
  grid: "rgba(204, 204, 220, 0.09)",
  error: "#F2495C",
  annotation: "rgba(0, 211, 255, 0.8)",
  accent: "#3d71d9",
} as const;

const PANEL_HEADER = 32;
const PANEL_PADDING = 8;
const LEGEND_ROW = 18;
/** Approximate width of a character of the 12 px axis font, to size the value axis. */
const CHAR_WIDTH = 7;

/** A moment marked on every time series (Grafana's annotations): when the load started and stopped. */
export interface Annotation {
  time: number;
  text: string;
}

export interface RenderInput {
  dashboard: Dashboard;
  /** The evaluated queries of each panel, by panel id; a panel absent here is drawn as "No data". */
  data: ReadonlyMap<number, PanelData>;
  /** The time range, unix seconds. */
  from: number;
  to: number;
  /** Step of the range queries: points further apart than 1.5 steps leave a gap, as Grafana draws them. */
  stepSeconds: number;
  /** Width of the grid, px. @default 1568 */
  width?: number;
  /** Said in a banner above the panels: what this page is (and is not). */
  notice: string;
  /** Lines under the notice: the run's parameters. */
  details?: readonly string[];
  annotations?: readonly Annotation[];
}

/** Escapes text for HTML and SVG, in content and in attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Pixel box of a panel from its `gridPos`, on a grid `width` px wide. */
export function panelBox(panel: Pick<Panel, "gridPos">, width: number): { left: number; top: number; width: number; height: number } {
  const column = (width - (GRID_COLUMNS - 1) * GRID_MARGIN) / GRID_COLUMNS;
  const { x, y, w, h } = panel.gridPos;
  return {
    left: Math.round(x * (column + GRID_MARGIN)),
    top: y * (GRID_CELL_HEIGHT + GRID_MARGIN),
    width: Math.round(w * column + (w - 1) * GRID_MARGIN),
    height: h * GRID_CELL_HEIGHT + (h - 1) * GRID_MARGIN,
  };
}

function round(n: number): string {
  return n.toFixed(1).replace(/\.0$/, "");
}

/** The SVG path of a series: one stroke per run of points without a gap, and the area under each. */
function seriesPaths(
  series: Series,
  color: string,
  panel: Panel,
  x: (t: number) => number,
  y: (v: number) => number,
  baseline: number,
  stepSeconds: number,
): string {
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  let previous: number | undefined;
  for (const [t, v] of series.points) {
    if (!Number.isFinite(v) || (previous !== undefined && t - previous > 1.5 * stepSeconds)) {
      if (run.length > 0) runs.push(run);
      run = [];
    }
    if (Number.isFinite(v)) run.push([x(t), y(v)]);
    previous = t;
  }
  if (run.length > 0) runs.push(run);

  const parts: string[] = [];
  for (const points of runs) {
    if (points.length === 1) {
      parts.push(`<circle cx="${round(points[0]![0])}" cy="${round(points[0]![1])}" r="1.5" fill="${color}"/>`);
      continue;
    }
    const line = points.map(([px, py], i) => `${i === 0 ? "M" : "L"}${round(px)} ${round(py)}`).join("");
    if (panel.fillOpacity > 0) {
      const area = `${line}L${round(points.at(-1)![0])} ${round(baseline)}L${round(points[0]![0])} ${round(baseline)}Z`;
      parts.push(`<path d="${area}" fill="${color}" fill-opacity="${panel.fillOpacity / 100}" stroke="none"/>`);
    }
    parts.push(`<path d="${line}" fill="none" stroke="${color}" stroke-width="${panel.lineWidth}" stroke-linejoin="round"/>`);
  }
  return parts.join("");
}

/** A time series chart, `width` × `height` px. */
function chart(panel: Panel, series: readonly Series[], input: RenderInput, width: number, height: number): string {
  const axis = valueAxis(series.flatMap(finiteValues), panel.unit);
  const labels = axis.ticks.map((t) => formatValue(t, panel.unit));
  const left = Math.max(...labels.map((l) => l.length)) * CHAR_WIDTH + 10;
  const right = width - 10;
  const top = 6;
  const bottom = height - 22;
  const x = (t: number) => left + ((t - input.from) / Math.max(1, input.to - input.from)) * (right - left);
  const y = (v: number) => bottom - ((v - axis.min) / (axis.max - axis.min)) * (bottom - top);

  const parts: string[] = [];
  axis.ticks.forEach((tick, i) => {
    const py = round(y(tick));
    parts.push(`<line x1="${left}" x2="${right}" y1="${py}" y2="${py}" stroke="${THEME.grid}"/>`);
    parts.push(`<text x="${left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeHtml(labels[i]!)}</text>`);
  });
  const times = timeTicks(input.from, input.to, Math.floor((right - left) / 90));
  const withSeconds = times.some((t) => t % 60 !== 0);
  for (const t of times) {
    const px = round(x(t));
    parts.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" stroke="${THEME.grid}"/>`);
    parts.push(`<text x="${px}" y="${bottom + 15}" text-anchor="middle">${formatTime(t, withSeconds)}</text>`);
  }
  for (const annotation of input.annotations ?? []) {
    if (annotation.time < input.from || annotation.time > input.to) continue;
    const px = round(x(annotation.time));
    parts.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${bottom}" stroke="${THEME.annotation}" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${Number(px) + 4}" y="${top + 10}" fill="${THEME.annotation}" class="annotation">${escapeHtml(annotation.text)}</text>`);
  }
  const baseline = y(Math.max(axis.min, Math.min(0, axis.max)));
  series.forEach((s, i) => parts.push(seriesPaths(s, PALETTE[i % PALETTE.length]!, panel, x, y, baseline, input.stepSeconds)));
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

/** Grafana's table legend: a row per series, a column per reduction; `rows` of them fit. */
function legend(panel: Panel, series: readonly Series[], rows: number): string {
  const shown = series.length > rows ? series.slice(0, Math.max(0, rows - 1)) : series;
  const head = `<tr><th class="name">Name</th>${panel.legendCalcs.map((c) => `<th>${escapeHtml(CALC_LABELS[c] ?? c)}</th>`).join("")}</tr>`;
  const body = shown.map((s, i) => {
    const cells = panel.legendCalcs.map((calc) => {
      const value = reduceSeries(s, calc);
      return `<td>${value === undefined ? "-" : escapeHtml(formatValue(value, panel.unit))}</td>`;
    });
    const swatch = `<i style="background:${PALETTE[i % PALETTE.length]}"></i>`;
    return `<tr><td class="name">${swatch}${escapeHtml(s.name)}</td>${cells.join("")}</tr>`;
  });
  if (shown.length < series.length) body.push(`<tr><td class="name more" colspan="${panel.legendCalcs.length + 1}">+ ${series.length - shown.length} more series</td></tr>`);
  return `<table class="legend">${head}${body.join("")}</table>`;
}

function panelHtml(panel: Panel, input: RenderInput, width: number): string {
  const box = panelBox(panel, width);
  const style = `left:${box.left}px;top:${box.top}px;width:${box.width}px;height:${box.height}px`;
  if (panel.type === "row") {
    return `<div class="row" style="${style}"><span class="chevron">&#8964;</span>${escapeHtml(panel.title)}</div>`;
  }
  const data = input.data.get(panel.id) ?? { series: [], errors: [] };
  const info = panel.description ? `<span class="info" title="${escapeHtml(panel.description)}">i</span>` : "";
  const errorMark = data.errors.length > 0 ? `<span class="error-mark" title="${escapeHtml(data.errors.join("\n"))}">!</span>` : "";
  const header = `<div class="title">${errorMark}<span>${escapeHtml(panel.title)}</span>${info}</div>`;
  const bodyHeight = box.height - PANEL_HEADER - PANEL_PADDING;
  const innerWidth = box.width - 2 * PANEL_PADDING;

  let body: string;
  if (data.series.length === 0) {
    const errors = data.errors.map((e) => `<div class="error">${escapeHtml(e)}</div>`).join("");
    body = `<div class="no-data" style="height:${bodyHeight}px">${errors || "No data"}</div>`;
  } else {
    // The legend takes what it needs, up to half of the panel; the rest is the chart.
    const fit = Math.max(2, Math.floor((bodyHeight * 0.5) / (LEGEND_ROW + 1)) - 1);
    const rows = Math.min(data.series.length, fit);
    // Each row is LEGEND_ROW px and a 1 px rule.
    const legendHeight = (rows + 1) * (LEGEND_ROW + 1) + 4;
    body =
      chart(panel, data.series, input, innerWidth, bodyHeight - legendHeight) +
      `<div class="legend-box" style="height:${legendHeight}px">${legend(panel, data.series, fit)}</div>`;
  }
  return `<section class="panel" style="${style}">${header}<div class="body">${body}</div></section>`;
}

/** When the range starts and ends, in UTC. */
function rangeText(from: number, to: number): string {
  const at = (t: number) => new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19);
  return `${at(from)} to ${at(to).slice(11)} UTC`;
}

const STYLE = `
* { box-sizing: border-box; }
body { margin: 0; padding: 16px; background: ${THEME.canvas}; color: ${THEME.text};
  font: 14px/1.4 Inter, "Helvetica Neue", Helvetica, Arial, sans-serif; }
header { display: flex; align-items: center; justify-content: space-between; margin-bottom: 12px; }
header h1 { margin: 0; font-size: 18px; font-weight: 500; }
header h1 .crumb { color: ${THEME.secondary}; font-weight: 400; }
header .range { border: 1px solid ${THEME.border}; border-radius: 2px; padding: 4px 10px; font-size: 13px; background: ${THEME.panel}; }
.notice { background: ${THEME.panel}; border: 1px solid ${THEME.border}; border-left: 4px solid ${THEME.accent};
  padding: 8px 12px; margin-bottom: 16px; font-size: 13px; }
.notice strong { font-weight: 600; }
.notice .details { color: ${THEME.secondary}; margin-top: 2px; }
.grid { position: relative; }
.panel, .row { position: absolute; }
.panel { background: ${THEME.panel}; border: 1px solid ${THEME.border}; border-radius: 2px; overflow: hidden; }
.title { height: ${PANEL_HEADER}px; padding: 0 ${PANEL_PADDING}px; display: flex; align-items: center; gap: 6px;
  font-weight: 500; white-space: nowrap; overflow: hidden; }
.title span:first-child { overflow: hidden; text-overflow: ellipsis; }
.info { display: inline-flex; width: 14px; height: 14px; border-radius: 50%; border: 1px solid ${THEME.secondary};
  color: ${THEME.secondary}; font-size: 10px; align-items: center; justify-content: center; font-style: italic; }
.error-mark { color: #fff; background: ${THEME.error}; width: 16px; height: 16px; border-radius: 2px;
  display: inline-flex; align-items: center; justify-content: center; font-size: 12px; }
.body { padding: 0 ${PANEL_PADDING}px; }
.chart { display: block; }
.chart text { fill: ${THEME.secondary}; font-size: 12px; }
.chart text.annotation { fill: ${THEME.annotation}; font-size: 11px; }
.no-data { display: flex; flex-direction: column; align-items: center; justify-content: center; color: ${THEME.secondary}; }
.error { color: ${THEME.error}; font-size: 12px; max-width: 90%; }
.legend-box { overflow: hidden; }
.legend { width: 100%; border-collapse: collapse; font-size: 12px; }
.legend th { color: ${THEME.secondary}; font-weight: 500; text-align: right; padding: 0 8px; height: ${LEGEND_ROW}px; white-space: nowrap; }
.legend td { text-align: right; padding: 0 8px; height: ${LEGEND_ROW}px; white-space: nowrap; border-top: 1px solid ${THEME.border}; }
.legend .name { text-align: left; width: 100%; max-width: 0; overflow: hidden; text-overflow: ellipsis; }
.legend .more { color: ${THEME.secondary}; }
.legend i { display: inline-block; width: 14px; height: 4px; border-radius: 2px; margin-right: 8px; vertical-align: middle; }
.row { display: flex; align-items: center; gap: 6px; font-size: 16px; font-weight: 500; }
.chevron { color: ${THEME.secondary}; font-size: 14px; position: relative; top: -3px; }
`;

/** The whole page: header, notice, and every panel on the grid. */
export function renderDashboardHtml(input: RenderInput): string {
  const width = input.width ?? 1568;
  const panels = input.dashboard.panels;
  const rows = Math.max(0, ...panels.map((p) => p.gridPos.y + p.gridPos.h));
  const height = rows * (GRID_CELL_HEIGHT + GRID_MARGIN) - GRID_MARGIN;
  const details = (input.details ?? []).map((line) => `<div class="details">${escapeHtml(line)}</div>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(input.dashboard.title)}</title>
<style>${STYLE}</style>
</head>
<body style="width:${width + 32}px">
<header><h1><span class="crumb">Dashboards / </span>${escapeHtml(input.dashboard.title)}</h1><div class="range">${rangeText(input.from, input.to)}</div></header>
<div class="notice"><strong>${escapeHtml(input.notice)}</strong>${details}</div>
<div class="grid" style="width:${width}px;height:${height}px">
${panels.map((p) => panelHtml(p, input, width)).join("\n")}
</div>
</body>
</html>
`;
}

/** A panel's outcome in a line of the console summary. */
export interface PanelSummary {
  title: string;
  /** Series returned by its queries. */
  series: number;
  /** Series with at least one finite value. */
  seriesWithValues: number;
  /** Highest finite value over every series, undefined without any. */
  max: number | undefined;
  /** `max` in the panel's unit. */
  maxText: string;
  errors: string[];
}

export function summarisePanel(panel: Panel, data: PanelData | undefined): PanelSummary {
  const series = data?.series ?? [];
  const values = series.flatMap(finiteValues);
  const max = values.length > 0 ? Math.max(...values) : undefined;
  return {
    title: panel.title,
    series: series.length,
    seriesWithValues: series.filter((s) => finiteValues(s).length > 0).length,
    max,
    maxText: max === undefined ? "no data" : formatValue(max, panel.unit),
    errors: data?.errors ?? [],
  };
}
