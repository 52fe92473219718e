/**
 * The benchmark's verdicts (scripts/bench/report.ts): each performance goal passes or fails on the
 * figures of the runs, a goal on invalid runs says so, and a queue that grows is never called flat.
 */
import { describe, expect, it } from "vitest";

import { evaluateGoals, persistenceKeptUp, renderMarkdown, type BenchReport, type BenchRuns } from "../../scripts/bench/report.js";
import type { CapacityResult } from "../../scripts/bench/capacity.js";
import type { RunResult } from "../../scripts/bench/run.js";

/** A run with plausible figures; `over` replaces any of them. */
function run(target: "a" | "b" | "c", over: Partial<RunResult> = {}): RunResult {
  return {
    target,
    label: `(${target}) full`,
    load: { conversations: 50, members: 5, rate: 1, duration: 60, ramp: 10 },
    offeredPerSecond: 250,
    windowSeconds: 55,
    sockets: 250,
    sentPerSecond: 250,
    deliveredPerSecond: 1000,
    delivery: { p50: 2, p95: 8, p99: 12, max: 40 },
    ackP99: 10,
    persistLagP99: target === "a" ? 0.2 : undefined,
    storedPerSecond: target === "a" ? 250 : undefined,
    queue: target === "a" ? [[0, 40], [10, 60], [20, 35], [30, 50]] : undefined,
    gatewayHeapBytes: 40e6,
    gatewayRssBytes: 120e6,
    heapPerSocketBytes: 160e3,
    rssPerSocketBytes: 480e3,
    eventLoopLagP99: 0.01,
    usage: { machineBusyPercent: 60, processes: { k6: { cpuPercent: 40 } } } as unknown as RunResult["usage"],
    k6CpuShareOfMachine: 0.2,
    valid: true,
    invalidReasons: [],
    k6: {
      exitCode: 0,
      thresholdsFailed: false,
      summary: { delivery: undefined, ack: undefined, sent: 15_000, delivered: 60_000, missed: 0, sendErrorRate: 0 },
      raw: {},
    },
    ...over,
  };
}

const goal = (goals: ReturnType<typeof evaluateGoals>, start: string) => goals.find((g) => g.goal.startsWith(start))!;

/** A report of `runs` at 1 msg/s per member (half load 0.5), no goals and no errors unless overridden. */
function benchReport(runs: BenchRuns & { a: RunResult }, overrides: Partial<BenchReport> = {}): BenchReport {
  return {
    startedAt: "2026-11-22T08:00:00Z",
    finishedAt: "2026-11-22T08:30:00Z",
    machine: { cores: 2, cpuModel: "test CPU", memoryGiB: 24, kernel: "6.1", node: "v20.20.2", redis: "7.0.15", nginx: "1.22.1" },
    quietness: { loadAverage: 0.1, idleBusyPercent: 1, others: [] },
    scenario: "load-tests/scenarios/chat.js",
    load: runs.a.load,
    halfLoad: { ...runs.a.load, rate: 0.5 },
    persistenceSeconds: 0,
    runs,
    goals: [],
    errors: [],
    ...overrides,
  };
}

describe("bench goals", () => {
  it("pass when (a) delivers what (b) does, with a p99 close to (b)'s and far below (c)'s p50", () => {
    const goals = evaluateGoals(
      { a: run("a"), b: run("b"), c: run("c", { delivery: { p50: 30, p95: 60, p99: 90, max: 200 } }), aHalf: run("a"), bHalf: run("b", { delivery: { p50: 2, p95: 6, p99: 10, max: 30 } }), persistence: run("a") },
      600,
      undefined,
      20_000,
    );
    expect(goal(goals, "delivered msgs/s").pass).toBe(true);
    expect(goal(goals, "at half").pass).toBe(true);
    expect(goal(goals, "delivery p50").pass).toBe(true);
    expect(goal(goals, "persistence keeps up").pass).toBe(true);
    expect(goal(goals, "persistence lag").pass).toBe(true);
    expect(goal(goals, "20,000 sockets").pass).toBeUndefined();
  });

  it("fail on each figure that misses its goal, and mark goals of invalid runs", () => {
    const goals = evaluateGoals(
      {
        a: run("a", { deliveredPerSecond: 900, persistLagP99: 3, valid: false, invalidReasons: ["machine 97 % busy"] }),
        b: run("b"),
        c: run("c", { delivery: { p50: 10, p95: 20, p99: 30, max: 50 } }),
        aHalf: run("a", { delivery: { p50: 5, p95: 40, p99: 60, max: 90 } }),
        bHalf: run("b"),
      },
      600,
      undefined,
      20_000,
    );
    expect(goal(goals, "delivered msgs/s")).toMatchObject({ pass: false, valid: false });
    expect(goal(goals, "at half")).toMatchObject({ pass: false, valid: true });
    expect(goal(goals, "delivery p50").pass).toBe(false);
    expect(goal(goals, "persistence lag").pass).toBe(false);
    expect(goal(goals, "persistence keeps up")).toMatchObject({ measured: "not run", pass: undefined });
  });

  it("never call a growing queue flat", () => {
    const growing = run("a", { queue: Array.from({ length: 60 }, (_, i) => [i * 10, 50 + i * 40] as [number, number]) });
    expect(persistenceKeptUp(growing).flat).toBe(false);
    expect(persistenceKeptUp(run("a")).flat).toBe(true);
    expect(persistenceKeptUp(run("a", { queue: [] })).flat).toBe(false);
  });

  it("render every goal and its verdict in the Markdown report", () => {
    const runs = { a: run("a"), b: run("b") };
    const report = benchReport(runs, { goals: evaluateGoals(runs, 0, undefined, 20_000), errors: ["(c): did not start"] });
    const markdown = renderMarkdown(report);
    for (const g of report.goals) expect(markdown).toContain(g.goal);
    expect(markdown).toContain("(c): did not start");
    expect(markdown).toMatch(/delivered msgs\/s \| 1,000 \| 1,000/);
  });

  it("say which load the half-load runs ran at: half of (b)'s maximum, with its steps, or the given one", () => {
    const runs = { a: run("a"), b: run("b") };
    const base = benchReport(runs, { halfLoad: { ...runs.a.load, rate: 2 } });
    const stepped = renderMarkdown({ ...base, bMaximum: { rate: 1000, table: "| 250 | step table |" } });
    expect(stepped).toContain("half of the 1,000 msgs/s that (b) kept up with at most");
    expect(stepped).toContain("## (b) stepped up to its maximum");
    expect(stepped).toContain("| 250 | step table |");

    const given = renderMarkdown(base);
    expect(given).toContain("msgs/s, 60 s (+10 s ramp) (given).");
    expect(given).not.toContain("stepped up");

    expect(renderMarkdown({ ...base, halfLoad: undefined })).not.toContain("Half load:");
  });

  it("render the capacity run with its connect time, the CPU of each process during the hold, and its validity", () => {
    const runs = { a: run("a") };
    const capacity: CapacityResult = {
      requested: 20_000,
      held: 20_000,
      ready: 20_000,
      connectErrors: 0,
      disconnects: 0,
      gateways: 2,
      perGateway: [10_000, 10_000],
      holdSeconds: 52,
      connectTimeP99Ms: 106,
      idleHeapBytes: 58e6,
      heapBytes: 295e6,
      heapPerSocketBytes: 14_750,
      marginalHeapPerSocketBytes: 11_850,
      rssPerSocketBytes: 26_000,
      nginxRssBytes: 550e6,
      openFileLimit: 20_000,
      nginxWorkers: 5,
      k6Processes: 2,
      usage: {
        seconds: 50,
        processes: { nginx: { cpuPercent: 4.5 }, "gateway-0": { cpuPercent: 9.6 }, "k6-0": { cpuPercent: 60 } },
        machineBusyPercent: 24.3,
        machineBusyPeakPercent: 31,
      } as unknown as CapacityResult["usage"],
      valid: false,
      notes: [],
    };
    const markdown = renderMarkdown(benchReport(runs, { capacity }));
    expect(markdown).toContain("## Connection capacity");
    expect(markdown).toContain("20,000 of 20,000 sockets held through nginx across 2 gateways (10,000 + 10,000), 0 connect errors");
    expect(markdown).toContain("Connect p99 106 ms, 20,000 sessions ready, 0 disconnects.");
    expect(markdown).toContain("During the hold, in % of one core: nginx 4.5, gateway-0 9.6, k6-0 60.0; the machine 24.3 % busy (peak 31.0 %). Valid: no.");
    expect(renderMarkdown(benchReport(runs, { capacity: { ...capacity, connectTimeP99Ms: undefined, valid: true } }))).toContain("Connect p99 –,");
  });
});
