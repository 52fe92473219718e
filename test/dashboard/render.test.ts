/**
 * `npm run dashboard`'s pure parts: the Grafana dashboard read into panels, Grafana's interval
 * variables, legends and units, and the page drawn from panels and series.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import {
  formatLegend,
  parseDashboard,
  rateIntervalSeconds,
  reduceSeries,
  substituteVariables,
  toSeries,
  unresolvedVariables,
  type Dashboard,
  type Panel,
  type PanelData,
} from "../../scripts/dashboard/panels.js";
import { GRID_CELL_HEIGHT, GRID_MARGIN, escapeHtml, panelBox, renderDashboardHtml, summarisePanel } from "../../scripts/dashboard/render.js";
import { formatValue, timeTicks, valueAxis } from "../../scripts/dashboard/units.js";
import { ROOT } from "../../scripts/lib/paths.js";

const DASHBOARD_JSON = JSON.parse(readFileSync(join(ROOT, "infra/grafana/dashboards/parley-overview.json"), "utf8")) as {
  panels: { type: string; title: string; targets?: { expr: string }[]; panels?: unknown[] }[];
};
const CONTEXT = { scrapeIntervalSeconds: 2, stepSeconds: 2 };
const WIDTH = 1568;

function panel(overrides: Partial<Panel> = {}): Panel {
  return {
    id: 1,
    type: "timeseries",
    title: "A panel",
    description: "",
    gridPos: { x: 0, y: 0, w: 12, h: 8 },
    unit: "short",
    lineWidth: 1,
    fillOpacity: 10,
    legendCalcs: ["lastNotNull", "max"],
    targets: [{ refId: "A", expr: "up", legendFormat: "{{job}}" }],
    ...overrides,
  };
}

function render(panels: Panel[], data: Map<number, PanelData>): string {
  return renderDashboardHtml({ dashboard: { title: "t", panels }, data, from: 1000, to: 1120, stepSeconds: 2, width: WIDTH, notice: "Not Grafana: a test." });
}

describe("the parley overview dashboard, read as Grafana reads it", () => {
  const dashboard: Dashboard = parseDashboard(DASHBOARD_JSON);

  it("has every panel, with its title, queries, unit and legend", () => {
    const expected = DASHBOARD_JSON.panels.flatMap((p) => [p, ...((p.panels ?? []) as typeof DASHBOARD_JSON.panels)]);
    expect(dashboard.panels.map((p) => p.title).sort()).toEqual(expected.map((p) => p.title).sort());
    for (const p of dashboard.panels.filter((p) => p.type !== "row")) {
      const raw = expected.find((e) => e.title === p.title)!;
      expect(p.targets.map((t) => t.expr), p.title).toEqual(raw.targets!.map((t) => t.expr));
      expect(p.targets.every((t) => t.legendFormat !== ""), p.title).toBe(true);
      expect(["s", "short", "ops", "bytes"]).toContain(p.unit);
      expect(p.legendCalcs).toEqual(["lastNotNull", "max"]);
    }
    expect(dashboard.panels.find((p) => p.title === "Resident memory")?.unit).toBe("bytes");
  });

  it("lays every panel out inside the 24-column grid, rows full width, no two panels overlapping", () => {
    const boxes = dashboard.panels.map((p) => ({ p, box: panelBox(p, WIDTH) }));
    for (const { p, box } of boxes) {
      expect(box.left, p.title).toBeGreaterThanOrEqual(0);
      expect(box.left + box.width, p.title).toBeLessThanOrEqual(WIDTH + 1);
      expect(box.top).toBe(p.gridPos.y * (GRID_CELL_HEIGHT + GRID_MARGIN));
      if (p.type === "row") expect(box.width).toBeGreaterThanOrEqual(WIDTH - 1);
    }
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart =
          a.box.left + a.box.width <= b.box.left || b.box.left + b.box.width <= a.box.left || a.box.top + a.box.height <= b.box.top || b.box.top + b.box.height <= a.box.top;
        expect(apart, `${a.p.title} overlaps ${b.p.title}`).toBe(true);
      }
    }
  });

  it("leaves no variable unfilled in any query, and gives rate() Grafana's $__rate_interval", () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    for (const expr of exprs) {
      const evaluated = substituteVariables(expr, CONTEXT);
      expect(unresolvedVariables(evaluated), expr).toEqual([]);
      if (expr.includes("$__rate_interval")) expect(evaluated).toMatch(/\[8s\]/);
    }
  });

  it("draws every panel and row of it, each with its title", () => {
    const html = render(dashboard.panels, new Map());
    for (const p of dashboard.panels) expect(html).toContain(`${escapeHtml(p.title)}<`);
    expect(html.match(/class="panel"/g)).toHaveLength(dashboard.panels.filter((p) => p.type !== "row").length);
    expect(html.match(/class="row"/g)).toHaveLength(dashboard.panels.filter((p) => p.type === "row").length);
  });
});

describe("Grafana's interval variables", () => {
  it("$__rate_interval is max(4 × scrape interval, step + scrape interval)", () => {
    expect(rateIntervalSeconds({ scrapeIntervalSeconds: 2, stepSeconds: 2 })).toBe(8);
    expect(rateIntervalSeconds({ scrapeIntervalSeconds: 15, stepSeconds: 60 })).toBe(75);
    expect(rateIntervalSeconds({ scrapeIntervalSeconds: 10, stepSeconds: 10 })).toBe(40);
  });

  it("fills both spellings and tells $__interval from $__interval_ms", () => {
    const context = { scrapeIntervalSeconds: 15, stepSeconds: 30 };
    expect(substituteVariables("rate(x[$__rate_interval]) + rate(y[${__rate_interval}])", context)).toBe("rate(x[60s]) + rate(y[60s])");
    expect(substituteVariables("avg_over_time(x[$__interval]) / $__interval_ms", context)).toBe("avg_over_time(x[30s]) / 30000");
    expect(substituteVariables("rate(x[$__interval])", { scrapeIntervalSeconds: 1, stepSeconds: 0.5 })).toBe("rate(x[500ms])");
  });

  it("names the variables it cannot fill, not label values that contain a dollar", () => {
    expect(unresolvedVariables('sum(x{node=~"$node"}) by ($group)')).toEqual(["$group"]);
    expect(unresolvedVariables("sum(rate(x[8s]))")).toEqual([]);
  });
});

describe("legends", () => {
  it("replaces {{label}} with the series' label, and a missing label with nothing", () => {
    expect(formatLegend("{{node}}", { node: "vm-1234", job: "gateway" })).toBe("vm-1234");
    expect(formatLegend("{{job}} {{ node }}", { node: "vm-1", job: "api" })).toBe("api vm-1");
    expect(formatLegend("disconnect: {{reason}}", {})).toBe("disconnect: ");
  });

  it("without a format, names the series by its metric and labels, or by the query", () => {
    expect(formatLegend("", { __name__: "up", job: "api" })).toBe('up{job="api"}');
    expect(formatLegend("", {}, "sum(up)")).toBe("sum(up)");
  });

  it("reads Prometheus's values, NaN and infinities included, and reduces over the finite ones", () => {
    const [series] = toSeries({ refId: "A", expr: "q", legendFormat: "{{event}}" }, [
      { metric: { event: "message:send" }, values: [[1, "0.5"], [3, "NaN"], [5, "+Inf"], [7, "0.25"], [9, "NaN"]] },
    ]);
    expect(series!.name).toBe("message:send");
    expect(series!.points.map(([, v]) => v)).toEqual([0.5, NaN, Infinity, 0.25, NaN]);
    expect(reduceSeries(series!, "lastNotNull")).toBe(0.25);
    expect(reduceSeries(series!, "max")).toBe(0.5);
    expect(reduceSeries(series!, "last")).toBeUndefined();
  });
});

describe("units", () => {
  it("writes durations in s as Grafana does: µs, ms, s, min", () => {
    expect(formatValue(0, "s")).toBe("0 s");
    expect(formatValue(0.00005, "s")).toBe("50 µs");
    expect(formatValue(0.0123, "s")).toBe("12.3 ms");
    expect(formatValue(0.25, "s")).toBe("250 ms");
    expect(formatValue(2.5, "s")).toBe("2.5 s");
    expect(formatValue(90, "s")).toBe("1.5 min");
    expect(formatValue(1500, "ms")).toBe("1.5 s");
    expect(formatValue(42, "ms")).toBe("42 ms");
  });

  it("writes bytes in binary units, rates with their suffix, and short numbers scaled", () => {
    expect(formatValue(512, "bytes")).toBe("512 B");
    expect(formatValue(150 * 1024 * 1024, "bytes")).toBe("150 MiB");
    expect(formatValue(1.5 * 1024 ** 3, "bytes")).toBe("1.5 GiB");
    expect(formatValue(1234, "ops")).toBe("1.23 K ops/s");
    expect(formatValue(0.5, "ops")).toBe("0.5 ops/s");
    expect(formatValue(20, "reqps")).toBe("20 req/s");
    expect(formatValue(12, "short")).toBe("12");
    expect(formatValue(2_500_000, "short")).toBe("2.5 Mil");
    expect(formatValue(NaN, "s")).toBe("NaN");
  });

  it("ticks value axes on round numbers from zero, byte axes on round binary units", () => {
    expect(valueAxis([0.012, 0.087], "s")).toEqual({ min: 0, max: 0.1, ticks: [0, 0.02, 0.04, 0.06, 0.08, 0.1] });
    const mib = 1024 * 1024;
    const bytes = valueAxis([70 * mib, 130 * mib], "bytes");
    expect(bytes.ticks.map((t) => formatValue(t, "bytes"))).toEqual(["0 B", "50 MiB", "100 MiB", "150 MiB"]);
    expect(valueAxis([], "short")).toMatchObject({ min: 0, max: 1 });
  });

  it("ticks time axes on round times", () => {
    expect(timeTicks(1001, 1120, 5)).toEqual([1020, 1050, 1080, 1110]);
  });
});

describe("the page", () => {
  it("shows No data in a panel whose queries returned no series, as Grafana does", () => {
    const html = render([panel({ id: 7, title: "Empty one" })], new Map([[7, { series: [], errors: [] }]]));
    expect(html).toMatch(/<section class="panel"[^>]*><div class="title"><span>Empty one<\/span><\/div><div class="body"><div class="no-data"[^>]*>No data<\/div>/);
    expect(html).not.toContain("<svg");
  });

  it("draws a series as a line with its legend row, values in the panel's unit", () => {
    const series = toSeries({ refId: "A", expr: "q", legendFormat: "{{node}}" }, [{ metric: { node: "vm-1" }, values: [[1000, "0.01"], [1002, "0.02"], [1004, "0.03"]] }]);
    const html = render([panel({ unit: "s" })], new Map([[1, { series, errors: [] }]]));
    expect(html).toMatch(/<path d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+L[\d.]+ [\d.]+" fill="none" stroke="#73BF69"/);
    expect(html).toContain("<th>Last *</th><th>Max</th>");
    expect(html).toMatch(/vm-1<\/td><td>30 ms<\/td><td>30 ms<\/td>/);
    expect(html).toContain("Not Grafana: a test.");
  });

  it("breaks a line where samples are missing or NaN", () => {
    const series = toSeries({ refId: "A", expr: "q", legendFormat: "x" }, [
      { metric: {}, values: [[1000, "1"], [1002, "2"], [1004, "NaN"], [1006, "3"], [1008, "4"], [1020, "5"], [1022, "6"]] },
    ]);
    const html = render([panel({ fillOpacity: 0 })], new Map([[1, { series, errors: [] }]]));
    expect(html.match(/<path d="M/g)).toHaveLength(3);
  });

  it("shows a failed query's error, escaped", () => {
    const html = render([panel()], new Map([[1, { series: [], errors: ["A: parse error: unexpected <EOF>"] }]]));
    expect(html).toContain("A: parse error: unexpected &lt;EOF&gt;");
    expect(html).toContain('class="error-mark"');
  });

  it("summarises a panel by its series and highest finite value", () => {
    const series = toSeries({ refId: "A", expr: "q", legendFormat: "{{kind}}" }, [
      { metric: { kind: "message" }, values: [[1, "3"], [2, "NaN"]] },
      { metric: { kind: "pointer" }, values: [[1, "NaN"]] },
    ]);
    expect(summarisePanel(panel(), { series, errors: [] })).toMatchObject({ series: 2, seriesWithValues: 1, max: 3, maxText: "3" });
    expect(summarisePanel(panel(), undefined)).toMatchObject({ series: 0, max: undefined, maxText: "no data" });
  });
});
