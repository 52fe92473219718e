/**
 * The benchmark's report: the performance goals (docs/performance.md) evaluated on the runs, and the Markdown rendering of
 * everything (the JSON report is the same object, serialised).
 */
import type { MachineInfo } from "./common.js";
import type { CapacityResult } from "./capacity.js";
import { describeLoad, type ChatLoad, type RunResult } from "./run.js";

/** The runs of one `npm run bench`, by role. */
export interface BenchRuns {
  /** Targets at the full load: (a), (b), (c). */
  a?: RunResult;
  b?: RunResult;
  c?: RunResult;
  /** (a) and (b) at half of the full load: the latency goal. */
  aHalf?: RunResult;
  bHalf?: RunResult;
  /** (a) at the full load for the persistence duration. */
  persistence?: RunResult;
}

export interface Goal {
  goal: string;
  /** What was measured, in words and figures. */
  measured: string;
  /** undefined: not evaluated (the run was skipped or failed). */
  pass: boolean | undefined;
  /** The runs behind it were valid (load generator under half the machine, machine not saturated). */
  valid: boolean | undefined;
}

export interface Quietness {
  /** 1-minute load average just before the runs. */
  loadAverage: number;
  /** Busy share of the machine over a few idle seconds before the runs, %. */
  idleBusyPercent: number;
  /** Processes outside the benchmark using over 5 % of a core then. */
  others: { pid: number; command: string; cpuPercent: number }[];
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  quietness: Quietness;
  scenario: string;
  load: ChatLoad;
  /** Absent when the half-load runs did not run. */
  halfLoad?: ChatLoad;
  /**
   * (b) stepped up from the full load: the highest offered msgs/s it kept up with (absent: not even the
   * full load), and the steps as a Markdown table. Absent when the half load was given (`--half-rate`).
   */
  bMaximum?: { rate?: number; table: string };
  persistenceSeconds: number;
  runs: BenchRuns;
  capacity?: CapacityResult | undefined;
  goals: Goal[];
  /** Failures of runs that did not complete. */
  errors: string[];
}

const KB = 1024;

function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}

function ratio(x: number | undefined, y: number | undefined): string {
  if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0) return "–";
  return `${(x / y).toFixed(2)}×`;
}

/** Evaluates the performance goals on the runs. */
export function evaluateGoals(runs: BenchRuns, persistenceSeconds: number, capacity: CapacityResult | undefined, capacityGoal: number): Goal[] {
  const { a, b, c, aHalf, bHalf, persistence } = runs;
  const goals: Goal[] = [];
  const both = (...rs: (RunResult | undefined)[]) => (rs.every((r) => r) ? rs.every((r) => r!.valid) : undefined);

  goals.push({
    goal: "delivered msgs/s of (a) ≥ (b)'s, same load",
    measured: a && b ? `${fmt(a.deliveredPerSecond, 0)} vs ${fmt(b.deliveredPerSecond, 0)} (${ratio(a.deliveredPerSecond, b.deliveredPerSecond)})` : "not run",
    // Within 1 %: both delivered what was offered when they keep up.
    pass: a && b ? a.deliveredPerSecond >= 0.99 * b.deliveredPerSecond : undefined,
    valid: both(a, b),
  });
  const aP99 = aHalf?.delivery?.p99;
  const bP99 = bHalf?.delivery?.p99;
  goals.push({
    goal: "at half of (b)'s maximum load: delivery p99 of (a) ≤ 1.5 × (b)'s and < 50 ms",
    measured:
      aHalf && bHalf
        ? `${fmt(aP99, 0)} ms vs ${fmt(bP99, 0)} ms (${ratio(aP99, bP99)}) at ${fmt(bHalf.offeredPerSecond, 0)} msgs/s offered`
        : "not run",
    pass: aP99 !== undefined && bP99 !== undefined ? aP99 <= 1.5 * Math.max(bP99, 1) && aP99 < 50 : undefined,
    valid: both(aHalf, bHalf),
  });
  const aP50 = a?.delivery?.p50;
  const cP50 = c?.delivery?.p50;
  goals.push({
    goal: "delivery p50 of (a) ≥ 10× lower than (c)'s",
    measured: a && c ? `${fmt(aP50, 0)} ms vs ${fmt(cP50, 0)} ms (${ratio(cP50, Math.max(aP50 ?? 0, 1))} lower)` : "not run",
    // Latencies are whole milliseconds in k6: a p50 under 1 ms counts as 1 ms.
    pass: aP50 !== undefined && cP50 !== undefined ? cP50 >= 10 * Math.max(aP50, 1) : undefined,
    valid: both(a, c),
  });
  if (persistence) {
    const keptUp = persistenceKeptUp(persistence);
    goals.push({
      goal: "persistence keeps up with the ingress rate for 10 minutes, flat queue",
      measured: `${fmt(persistence.windowSeconds / 60)} min at ${fmt(persistence.sentPerSecond, 0)} msgs/s: stored ${fmt(persistence.storedPerSecond, 0)} msgs/s, ${keptUp.detail}`,
      pass: keptUp.flat && persistenceSeconds >= 600,
      valid: persistence.valid,
    });
  } else {
    goals.push({ goal: "persistence keeps up with the ingress rate for 10 minutes, flat queue", measured: "not run", pass: undefined, valid: undefined });
  }
  const lagRuns = [a, persistence].filter((r): r is RunResult => r?.persistLagP99 !== undefined);
  const worstLag = lagRuns.length ? Math.max(...lagRuns.map((r) => r.persistLagP99!)) : undefined;
  goals.push({
    goal: "persistence lag p99 < 1 s",
    measured: lagRuns.length ? lagRuns.map((r) => `${r.label}: ${fmt(r.persistLagP99! * 1000, 0)} ms`).join(", ") : "not run",
    pass: worstLag !== undefined && Number.isFinite(worstLag) ? worstLag < 1 : undefined,
    valid: lagRuns.length ? lagRuns.every((r) => r.valid) : undefined,
  });
  goals.push({
    goal: `${capacityGoal.toLocaleString("en-US")} sockets held across (a), no connect error, gateway heap ≤ 15 KB per socket`,
    measured: capacity
      ? `${capacity.held.toLocaleString("en-US")} held, ${capacity.connectErrors} connect errors, heap ${fmt(capacity.heapPerSocketBytes / KB)} KB/socket ` +
        `(${fmt(capacity.marginalHeapPerSocketBytes / KB)} KB above the idle gateways)`
      : "not run",
    pass: capacity ? capacity.held >= capacityGoal && capacity.connectErrors === 0 && capacity.heapPerSocketBytes <= 15 * KB : undefined,
    valid: capacity ? capacity.valid : undefined,
  });
  return goals;
}

/**
 * Whether the queue stayed flat: the backlog at the end of the window is under one second of ingress
 * (or 100 jobs), and its least-squares slope over the window is under 1 % of the ingress rate.
 */
export function persistenceKeptUp(run: RunResult): { flat: boolean; detail: string } {
  const queue = run.queue ?? [];
  if (queue.length < 2) return { flat: false, detail: "no queue samples" };
  const n = queue.length;
  const mx = queue.reduce((a, [t]) => a + t, 0) / n;
  const my = queue.reduce((a, [, q]) => a + q, 0) / n;
  const slope = queue.reduce((a, [t, q]) => a + (t - mx) * (q - my), 0) / Math.max(queue.reduce((a, [t]) => a + (t - mx) ** 2, 0), 1e-9);
  const last = queue.at(-1)![1];
  const max = Math.max(...queue.map(([, q]) => q));
  const limit = Math.max(100, run.sentPerSecond);
  const flat = last <= limit && slope <= 0.01 * run.sentPerSecond;
  return { flat, detail: `queue mean ${fmt(my, 0)}, max ${fmt(max, 0)}, last ${fmt(last, 0)} jobs, slope ${fmt(slope, 2)} jobs/s` };
}

function processNames(runs: readonly RunResult[]): string[] {
  const order = ["nginx", "gateway-0", "gateway-1", "api", "worker", "redis", "ferretdb", "k6"];
  const names = new Set(runs.flatMap((r) => Object.keys(r.usage.processes)));
  return [...order.filter((n) => names.has(n)), ...[...names].filter((n) => !order.includes(n)).sort()];
}

/** Rows of figures for a set of runs: [label, value per run]. */
function figureRows(runs: readonly (RunResult | undefined)[]): [string, (number | string | undefined)[]][] {
  const present = runs.filter((r): r is RunResult => r !== undefined);
  const rows: [string, (number | string | undefined)[]][] = [
    ["sockets", runs.map((r) => r?.sockets)],
    ["offered msgs/s", runs.map((r) => r?.offeredPerSecond)],
    ["sent msgs/s", runs.map((r) => r?.sentPerSecond)],
    ["delivered msgs/s", runs.map((r) => r?.deliveredPerSecond)],
    ["delivery p50 (ms)", runs.map((r) => r?.delivery?.p50)],
    ["delivery p95 (ms)", runs.map((r) => r?.delivery?.p95)],
    ["delivery p99 (ms)", runs.map((r) => r?.delivery?.p99)],
    ["ack p99 (ms)", runs.map((r) => r?.ackP99)],
    [
      "persistence lag p99 (ms)",
      runs.map((r) => (r === undefined ? undefined : r.persistLagP99 !== undefined ? r.persistLagP99 * 1000 : r.target === "c" ? "in the send path" : "no persistence")),
    ],
    ["stored msgs/s", runs.map((r) => r?.storedPerSecond)],
    ["missed deliveries", runs.map((r) => r?.k6.summary.missed)],
    ["send errors (%)", runs.map((r) => (r ? r.k6.summary.sendErrorRate * 100 : undefined))],
    ["gateway heap per socket (KB)", runs.map((r) => (r ? r.heapPerSocketBytes / KB : undefined))],
    ["gateway RSS per socket (KB)", runs.map((r) => (r ? r.rssPerSocketBytes / KB : undefined))],
    ["gateway event-loop lag p99 (ms)", runs.map((r) => (r ? r.eventLoopLagP99 * 1000 : undefined))],
  ];
  for (const name of processNames(present)) {
    rows.push([`CPU ${name} (% of a core)`, runs.map((r) => (r ? (r.usage.processes[name]?.cpuPercent ?? "–") : undefined))]);
  }
  rows.push(["machine busy (%)", runs.map((r) => r?.usage.machineBusyPercent)]);
  rows.push(["k6 share of the machine (%)", runs.map((r) => (r ? r.k6CpuShareOfMachine * 100 : undefined))]);
  rows.push(["valid", runs.map((r) => (r ? (r.valid ? "yes" : `no: ${r.invalidReasons.join("; ")}`) : undefined))]);
  return rows;
}

function cell(value: number | string | undefined): string {
  return typeof value === "number" ? fmt(value) : (value ?? "–");
}

function table(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/**
 * The main table: (a), (b), (c) at the full load, and every figure of (a) as a ratio to (b) and (c),
 * and of (c) to (b).
 */
export function mainTable(runs: BenchRuns): string {
  const { a, b, c } = runs;
  const rows = figureRows([a, b, c]).map(([label, [va, vb, vc]]) => {
    const num = (v: number | string | undefined) => (typeof v === "number" ? v : undefined);
    const ratios = label === "valid" ? ["", "", "", ""] : [ratio(num(va), num(vb)), ratio(num(va), num(vc)), ratio(num(vc), num(vb)), ratio(num(vb), num(vc))];
    return [label, cell(va), cell(vb), cell(vc), ...ratios];
  });
  return table(["full load", "(a) cluster", "(b) single", "(c) persist-first", "(a) ÷ (b)", "(a) ÷ (c)", "(c) ÷ (b)", "(b) ÷ (c)"], rows);
}

/** (a) and (b) at half load, with (a) as a ratio to (b). */
export function halfTable(runs: BenchRuns): string {
  const { aHalf, bHalf } = runs;
  const rows = figureRows([aHalf, bHalf]).map(([label, [va, vb]]) => {
    const num = (v: number | string | undefined) => (typeof v === "number" ? v : undefined);
    return [label, cell(va), cell(vb), label === "valid" ? "" : ratio(num(va), num(vb))];
  });
  return table(["half load", "(a) cluster", "(b) single", "(a) ÷ (b)"], rows);
}

export function goalsTable(goals: readonly Goal[]): string {
  return table(
    ["goal", "measured", "result"],
    goals.map((g) => [g.goal, g.measured, `${g.pass === undefined ? "not evaluated" : g.pass ? "**pass**" : "**fail**"}${g.valid === false ? " (run not valid)" : ""}`]),
  );
}

export function renderMarkdown(report: BenchReport): string {
  const { machine, quietness, runs } = report;
  const lines: string[] = [];
  lines.push(`# parley benchmark, ${report.startedAt}`);
  lines.push("");
  lines.push(
    `Machine: ${machine.cores} cores (\`nproc\`), ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, ` +
      `Node ${machine.node}, Redis ${machine.redis}, nginx ${machine.nginx}. Everything (targets and k6) on this one machine.`,
  );
  lines.push(
    `Quiet? Load average ${quietness.loadAverage.toFixed(2)} and ${quietness.idleBusyPercent.toFixed(0)} % busy just before the runs` +
      (quietness.others.length ? `; other busy processes: ${quietness.others.map((o) => `${o.command} (${o.cpuPercent.toFixed(0)} %)`).join(", ")}.` : "; nothing else busy."),
  );
  lines.push("");
  const max = report.bMaximum;
  const halfOf = max ? (max.rate !== undefined ? `, half of the ${fmt(max.rate, 0)} msgs/s that (b) kept up with at most` : "") : " (given)";
  lines.push(
    `Scenario \`${report.scenario}\`. Full load: ${describeLoad(report.load)}.` +
      (report.halfLoad ? ` Half load: ${describeLoad(report.halfLoad)}${halfOf}.` : ""),
  );
  lines.push("");
  lines.push("## Goals");
  lines.push("");
  lines.push(goalsTable(report.goals));
  lines.push("");
  if (runs.a || runs.b || runs.c) {
    lines.push("## Full load");
    lines.push("");
    lines.push(mainTable(runs));
    lines.push("");
  }
  if (runs.aHalf || runs.bHalf) {
    lines.push("## Half load");
    lines.push("");
    lines.push(halfTable(runs));
    lines.push("");
  }
  if (report.bMaximum) {
    lines.push("## (b) stepped up to its maximum");
    lines.push("");
    lines.push(
      "30 s per step; a step keeps up when (b) sent 90 % of the offered messages and delivered 95 % of them to every " +
        "other member, in a valid run. The half load is half of the last step that kept up.",
    );
    lines.push("");
    lines.push(report.bMaximum.table);
    lines.push("");
  }
  if (runs.persistence) {
    const p = runs.persistence;
    lines.push("## Persistence at the ingress rate");
    lines.push("");
    lines.push(
      `(a) at the full load for ${fmt(p.windowSeconds / 60)} minutes (steady window): ${fmt(p.sentPerSecond, 0)} msgs/s sent, ` +
        `${fmt(p.storedPerSecond, 0)} msgs/s stored, persistence lag p99 ${fmt((p.persistLagP99 ?? NaN) * 1000, 0)} ms, ` +
        `${persistenceKeptUp(p).detail}; queue emptied ${p.drainSeconds === undefined ? "not within 2 minutes" : `${fmt(p.drainSeconds)} s`} after the last send. ` +
        `Valid: ${p.valid ? "yes" : `no (${p.invalidReasons.join("; ")})`}.`,
    );
    lines.push("");
    const samples = p.queue ?? [];
    const step = Math.max(1, Math.ceil(samples.length / 20));
    lines.push(`Queue (waiting + active jobs) over the window: ${samples.filter((_, i) => i % step === 0).map(([t, q]) => `${t}s:${q}`).join(" ")}`);
    lines.push("");
  }
  if (report.capacity) {
    const cap = report.capacity;
    lines.push("## Connection capacity");
    lines.push("");
    lines.push(
      `${cap.held.toLocaleString("en-US")} of ${cap.requested.toLocaleString("en-US")} sockets held through nginx across ${cap.gateways} gateways ` +
        `(${cap.perGateway.map((n) => n.toLocaleString("en-US")).join(" + ")}), ${cap.connectErrors} connect errors, held ${fmt(cap.holdSeconds, 0)} s. ` +
        `Gateway heap after a full GC ${fmt(cap.heapBytes / 1024 / 1024)} MiB = ${fmt(cap.heapPerSocketBytes / KB)} KB per socket ` +
        `(${fmt(cap.marginalHeapPerSocketBytes / KB)} KB above the idle gateways' ${fmt(cap.idleHeapBytes / 1024 / 1024)} MiB); ` +
        `RSS ${fmt(cap.rssPerSocketBytes / KB)} KB per socket. nginx ${fmt(cap.nginxRssBytes / 1024 / 1024)} MiB RSS. ` +
        `${cap.notes.join(" ")}`,
    );
    lines.push("");
    const cpu = Object.entries(cap.usage.processes).map(([name, usage]) => `${name} ${fmt(usage.cpuPercent)}`);
    lines.push(
      `Connect p99 ${cap.connectTimeP99Ms === undefined ? "–" : `${fmt(cap.connectTimeP99Ms, 0)} ms`}, ` +
        `${cap.ready.toLocaleString("en-US")} sessions ready, ${cap.disconnects} disconnects. ` +
        `During the hold, in % of one core: ${cpu.join(", ")}; the machine ${fmt(cap.usage.machineBusyPercent)} % busy ` +
        `(peak ${fmt(cap.usage.machineBusyPeakPercent)} %). Valid: ${cap.valid ? "yes" : "no"}.`,
    );
    lines.push("");
  }
  if (report.errors.length) {
    lines.push("## Errors");
    lines.push("");
    for (const e of report.errors) lines.push(`- ${e.split("\n")[0]}`);
    lines.push("");
  }
  lines.push(
    "Figures: rates and CPU over the steady window (after the ramp, until the last send, as the gateways count sends); " +
      "latency percentiles from k6 over the whole run, in whole milliseconds; CPU in % of one core from /proc; " +
      "memory per socket is the gateways' heap used (RSS) over the sockets they held. A run is valid when k6 used under half " +
      "of the machine and the machine was under 95 % busy.",
  );
  return `${lines.join("\n")}\n`;
}
