/**
 * `npm run bench`: parley against its baselines, in one run, on the local machine.
 *
 * Starts each target in turn, runs the k6 `chat` scenario (load-tests/scenarios/chat.js) against it
 * with the same parameters, samples every process while it runs, and writes
 * reports/bench/<timestamp>.json and .md with the figures, their ratios and the goals, pass or fail.
 *
 *   (a) the cluster as shipped: nginx, two gateways on the Redis adapter, API, worker, persistence;
 *   (b) the ceiling: one gateway process on the in-memory adapter, no nginx, no persistence;
 *   (c) persist first, then emit: like (a), but every message is written to MongoDB before delivery.
 *
 * Runs, in order: (b) at the full load, then stepped up to its maximum; (a) and (c) at the full load;
 * (b) and (a) at half of (b)'s maximum (the latency goal); (a) at
 * the full load for `--persistence` (the queue must stay flat); then the connection-capacity run:
 * `--capacity` sockets held through nginx across (a).
 *
 * Options (defaults in parentheses):
 *   --conversations N (50) --members N (5) --rate R msgs/s per member (1)   the full load: 250 msgs/s
 *   --duration 60s --ramp 10s          the send window and the connection ramp of each run
 *   --targets a,b,c                    targets at the full load
 *   --no-half                          skip the half-load runs (and the search for (b)'s maximum)
 *   --half-rate R                      msgs/s per member of the half-load runs, instead of half of the
 *                                      maximum that (b) is stepped up to (about 5 minutes)
 *   --persistence 10m                  length of the persistence run (0: skip)
 *   --capacity 20000 --capacity-hold 60s --capacity-ramp 300s   the capacity run (0 sockets: skip)
 *   --heap-snapshots                   the capacity run also writes a heap snapshot of each gateway,
 *                                      idle and holding its sockets (compare them with heap-diff.ts)
 *   --find-load                        instead of the report: step (b)'s load up to saturation
 *   --profile                          record a CPU profile of every gateway and of the worker of (a)
 *                                      (`node --cpu-prof`; the worker's in <profiles>/worker) and
 *                                      60 s of (a)'s FerretDB (Go pprof) during its last run
 *   --env NAME=value                   extra environment of every service (repeatable), e.g. tuning
 *   --label text                       added to the report's name
 *   --report-dir path                  where the reports go (reports/bench)
 *   --scenario path                    (load-tests/scenarios/chat.js)
 * MONGO_URL: run the targets on this MongoDB (a database each) instead of an embedded FerretDB each.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";

import { ROOT, RUN_DIR } from "./lib/paths.js";
import { freePort } from "./lib/ports.js";
import { captureGoProfile, machineCpu } from "./bench/proc.js";
import { holdTooShort, runCapacity, type CapacityResult } from "./bench/capacity.js";
import { machineInfo } from "./bench/common.js";
import { K6_BINARY } from "./bench/k6.js";
import { evaluateGoals, renderMarkdown, type BenchReport, type BenchRuns, type Quietness } from "./bench/report.js";
import { describeLoad, offeredRate, runChat, type ChatLoad, type RunResult } from "./bench/run.js";
import { startTarget, TARGET_IDS, type RunningTarget, type TargetId } from "./bench/targets.js";

const { values: args } = parseArgs({
  options: {
    conversations: { type: "string", default: "50" },
    members: { type: "string", default: "5" },
    rate: { type: "string", default: "1" },
    duration: { type: "string", default: "60s" },
    ramp: { type: "string", default: "10s" },
    targets: { type: "string", default: TARGET_IDS.join(",") },
    "no-half": { type: "boolean", default: false },
    "half-rate": { type: "string" },
    persistence: { type: "string", default: "10m" },
    capacity: { type: "string", default: "20000" },
    "capacity-hold": { type: "string", default: "60s" },
    "capacity-ramp": { type: "string", default: "300s" },
    "heap-snapshots": { type: "boolean", default: false },
    "find-load": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    env: { type: "string", multiple: true, default: [] },
    label: { type: "string" },
    "report-dir": { type: "string", default: join(ROOT, "reports", "bench") },
    scenario: { type: "string", default: "load-tests/scenarios/chat.js" },
  },
});

/** `90`, `90s`, `10m`, `1h` → seconds. */
function seconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (like 90s, 10m)`);
  return Number(match[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(match[2] ?? "s") as "s" | "m" | "h"];
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number ≥ 0, not ${text}`);
  return value;
}

const load: ChatLoad = {
  conversations: positive("conversations", args.conversations),
  members: positive("members", args.members),
  rate: positive("rate", args.rate),
  duration: seconds(args.duration),
  ramp: seconds(args.ramp),
};
/** Set by the step-up of (b) unless `--half-rate` gives it. */
let halfLoad: ChatLoad | undefined = args["half-rate"] ? { ...load, rate: positive("half-rate", args["half-rate"]) } : undefined;
const persistenceSeconds = seconds(args.persistence);
const capacitySockets = positive("capacity", args.capacity);
// Refused before any run, not after half an hour of them.
const holdError = capacitySockets > 0 ? holdTooShort(seconds(args["capacity-hold"]), args["heap-snapshots"]) : undefined;
if (holdError) throw new Error(`--capacity-hold: ${holdError}`);
const targets = args.targets.split(",").map((t) => t.trim()) as TargetId[];
for (const t of targets) if (!TARGET_IDS.includes(t)) throw new Error(`--targets: unknown target ${t} (a, b or c)`);
const serviceEnv = Object.fromEntries(
  args.env.map((pair) => {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`--env takes NAME=value, not ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const mongoUrl = process.env.MONGO_URL || undefined;
const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
const name = args.label ? `${stamp}-${args.label.replace(/[^\w.-]+/g, "-")}` : stamp;
const runDir = join(RUN_DIR, "bench", name);
const reportDir = resolve(args["report-dir"]);
const machine = machineInfo();

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** How busy the machine is before the runs, and with what. */
async function measureQuietness(): Promise<Quietness> {
  const ticks = () => {
    const byPid = new Map<number, { command: string; cpu: number }>();
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        byPid.set(pid, { command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), cpu: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // Gone.
      }
    }
    return byPid;
  };
  const before = ticks();
  const machineBefore = machineCpu();
  await delay(5000);
  const after = ticks();
  const machineAfter = machineCpu();
  const others = [...after]
    .filter(([pid]) => pid !== process.pid)
    .map(([pid, { command, cpu }]) => ({ pid, command, cpuPercent: (cpu - (before.get(pid)?.cpu ?? cpu)) / 5 }))
    .filter((p) => p.cpuPercent > 5)
    .sort((x, y) => y.cpuPercent - x.cpuPercent);
  return {
    loadAverage: loadavg()[0]!,
    idleBusyPercent: (100 * (machineAfter.busy - machineBefore.busy)) / Math.max(machineAfter.total - machineBefore.total, 1e-9),
    others,
  };
}

function summaryLine(r: RunResult): string {
  return (
    `${r.label}: ${r.sockets.toFixed(0)} sockets, sent ${r.sentPerSecond.toFixed(0)}/s (offered ${r.offeredPerSecond.toFixed(0)}), ` +
    `delivered ${r.deliveredPerSecond.toFixed(0)}/s, delivery p50/p99 ${r.delivery?.p50.toFixed(1)}/${r.delivery?.p99.toFixed(1)} ms, ` +
    `ack p99 ${r.ackP99?.toFixed(1)} ms` +
    (r.persistLagP99 !== undefined ? `, persist lag p99 ${(r.persistLagP99 * 1000).toFixed(0)} ms` : "") +
    `, machine ${r.usage.machineBusyPercent.toFixed(0)} %, k6 ${(r.usage.processes.k6?.cpuPercent ?? 0).toFixed(0)} %` +
    (r.valid ? "" : ` — NOT VALID: ${r.invalidReasons.join("; ")}`)
  );
}

async function withTarget<T>(
  id: TargetId,
  use: (target: RunningTarget) => Promise<T>,
  extra: { profileDir?: string; ferretDbDebugAddr?: string } = {},
): Promise<T> {
  log(`starting ${id}…`);
  const target = await startTarget(id, {
    dir: join(runDir, id),
    mongoUrl,
    env: serviceEnv,
    ferretDbDebugAddr: extra.ferretDbDebugAddr,
    ...(extra.profileDir
      ? {
          gatewayNodeFlags: ["--cpu-prof", `--cpu-prof-dir=${extra.profileDir}`],
          workerNodeFlags: ["--cpu-prof", `--cpu-prof-dir=${join(extra.profileDir, "worker")}`],
        }
      : {}),
  });
  try {
    return await use(target);
  } finally {
    log(`stopping ${id}`);
    await target.stop();
    // Let the machine settle between runs.
    await delay(3000);
  }
}

const runOptions = (dir: string) => ({
  scenario: args.scenario,
  dir,
  cores: machine.cores,
  progress: log,
  // The scenario's threshold is a goal of its own; here every run reports, whatever its latency.
  env: { DELIVERY_P99_MS: "100000" },
});

/** The per-member rates (b) is stepped through: 1, 2, 3, 4, 6, 8 and 10 × the full load. */
const STEP_FACTORS = [1, 2, 3, 4, 6, 8, 10];

/**
 * Whether a step kept up: sent what was offered (90 %: a short window counts a few sends less) and
 * delivered 95 % of it to every other member, in a valid run.
 */
function keptUp(r: RunResult, step: ChatLoad): boolean {
  return (
    r.valid &&
    r.sentPerSecond >= 0.9 * offeredRate(step) &&
    r.deliveredPerSecond >= 0.95 * r.sentPerSecond * (step.members - 1)
  );
}

/**
 * Steps (b)'s offered load up from the full load (30 s per step at most) until a step does not keep
 * up. Resolves with the highest rate that did (undefined if none) and a Markdown table of the steps.
 * A step that is not valid (k6 over half of the machine) ends the search too: the load generator, not
 * (b), is then the limit, and the table says so.
 */
async function stepUp(target: RunningTarget): Promise<{ max: ChatLoad | undefined; table: string }> {
  const rows: string[] = [];
  let max: ChatLoad | undefined;
  for (const factor of STEP_FACTORS) {
    const step: ChatLoad = { ...load, rate: Number((load.rate * factor).toFixed(3)), duration: Math.min(load.duration, 30) };
    const r = await runChat(target, step, `(b) step ${offeredRate(step)}`, runOptions(join(runDir, "b-steps")));
    log(summaryLine(r));
    const expected = r.sentPerSecond * (step.members - 1);
    const ok = keptUp(r, step);
    rows.push(
      `| ${offeredRate(step).toFixed(0)} | ${r.sentPerSecond.toFixed(0)} | ${r.deliveredPerSecond.toFixed(0)} (${((100 * r.deliveredPerSecond) / Math.max(expected, 1)).toFixed(0)} %) | ` +
        `${r.delivery?.p50.toFixed(1)} / ${r.delivery?.p99.toFixed(1)} | ${(r.usage.processes["gateway-0"]?.cpuPercent ?? 0).toFixed(0)} | ` +
        `${(r.usage.processes.redis?.cpuPercent ?? 0).toFixed(0)} | ${(r.usage.processes.k6?.cpuPercent ?? 0).toFixed(0)} | ${r.usage.machineBusyPercent.toFixed(0)} | ` +
        `${ok ? "yes" : r.valid ? "no" : `no: ${r.invalidReasons.join("; ")}`} |`,
    );
    if (!ok) break;
    max = step;
  }
  const table = [
    "| offered msgs/s | sent/s | delivered/s | delivery p50 / p99 (ms) | gateway CPU % | redis CPU % | k6 CPU % | machine % | kept up |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
  return { max, table };
}

/** `--find-load`: only the step-up of (b), printed and saved, to choose the full load from. */
async function findLoad(): Promise<void> {
  const { max, table } = await withTarget("b", stepUp);
  const text = [
    `(b) at ${load.conversations} conversations × ${load.members} members; ${machine.cores} × ${machine.cpuModel}`,
    "",
    table,
    "",
    `Maximum: ${max ? `${offeredRate(max)} msgs/s` : "not even the first step"}.`,
  ].join("\n");
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, `${name}-find-load.md`), `${text}\n`);
  console.log(`\n${text}\n`);
}

async function main(): Promise<void> {
  try {
    execFileSync(K6_BINARY, ["version"], { stdio: "ignore" });
  } catch {
    throw new Error(`k6 is not built at ${relative(ROOT, K6_BINARY)}: run \`npm run setup\``);
  }
  mkdirSync(runDir, { recursive: true });
  if (args["find-load"]) return findLoad();

  const startedAt = new Date().toISOString();
  log(`measuring how quiet the machine is…`);
  const quietness = await measureQuietness();
  log(`load average ${quietness.loadAverage.toFixed(2)}, ${quietness.idleBusyPercent.toFixed(0)} % busy idle`);
  log(`full load: ${describeLoad(load)}; runs and logs under ${relative(ROOT, runDir)}`);
  const runs: BenchRuns = {};
  const errors: string[] = [];
  let maxLoad: BenchReport["bMaximum"];
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      errors.push(`${what}: ${message}`);
      log(`${what} failed: ${message}`);
    }
  };
  const record = (key: keyof BenchRuns, r: RunResult) => {
    runs[key] = r;
    log(summaryLine(r));
  };

  if (targets.includes("b")) {
    await attempt("(b)", () =>
      withTarget("b", async (t) => {
        record("b", await runChat(t, load, "(b) full", runOptions(join(runDir, "b"))));
        if (args["no-half"]) return;
        if (!halfLoad) {
          const { max, table } = await stepUp(t);
          maxLoad = { table, ...(max ? { rate: offeredRate(max) } : {}) };
          if (!max) throw new Error("(b) did not keep up with the full load: no maximum to halve");
          halfLoad = { ...load, rate: Number((max.rate / 2).toFixed(3)) };
          log(`(b) kept up with ${offeredRate(max)} msgs/s at most; half load: ${describeLoad(halfLoad)}`);
        }
        record("bHalf", await runChat(t, halfLoad, "(b) half", runOptions(join(runDir, "b"))));
      }),
    );
  }
  if (targets.includes("a")) {
    const profileDir = args.profile ? join(reportDir, `${name}-profiles`) : undefined;
    const ferretDbDebugAddr = profileDir && !mongoUrl ? `127.0.0.1:${await freePort()}` : undefined;
    /** Runs `run`, profiling FerretDB for its first 60 s after the ramp when profiling. */
    const profiled = async (run: () => Promise<RunResult>): Promise<RunResult> => {
      if (!profileDir || !ferretDbDebugAddr) return run();
      const file = join(profileDir, "ferretdb.pprof");
      const profile = delay(load.ramp * 1000).then(() => captureGoProfile(ferretDbDebugAddr, 60, file));
      const result = await run();
      await profile.then(
        () => log(`FerretDB profile: ${relative(ROOT, file)} (go tool pprof -top .cache/bin/ferretdb-launcher ${relative(ROOT, file)})`),
        (err: Error) => log(`FerretDB profile failed: ${err.message}`),
      );
      return result;
    };
    await attempt("(a)", () =>
      withTarget(
        "a",
        async (t) => {
          const last = persistenceSeconds > 0 ? "persistence" : args["no-half"] || !halfLoad ? "full" : "half";
          const maybeProfiled = (run: () => Promise<RunResult>, which: string) => (which === last ? profiled(run) : run());
          record("a", await maybeProfiled(() => runChat(t, load, "(a) full", runOptions(join(runDir, "a"))), "full"));
          if (!args["no-half"] && !halfLoad) log("(a) half skipped: no maximum of (b) to halve (run (b) too, or give --half-rate)");
          if (!args["no-half"] && halfLoad) {
            const half = halfLoad;
            record("aHalf", await maybeProfiled(() => runChat(t, half, "(a) half", runOptions(join(runDir, "a"))), "half"));
          }
          if (persistenceSeconds > 0) {
            log(`persistence run: (a) at the full load for ${persistenceSeconds} s`);
            const persistence = { ...load, duration: persistenceSeconds };
            record("persistence", await profiled(() => runChat(t, persistence, "(a) persistence", runOptions(join(runDir, "a")))));
          }
        },
        { ...(profileDir ? { profileDir } : {}), ...(ferretDbDebugAddr ? { ferretDbDebugAddr } : {}) },
      ),
    );
  }
  if (targets.includes("c")) {
    await attempt("(c)", () => withTarget("c", async (t) => record("c", await runChat(t, load, "(c) full", runOptions(join(runDir, "c"))))));
  }
  let capacity: CapacityResult | undefined;
  if (capacitySockets > 0) {
    await attempt("capacity", async () => {
      log(`capacity run: ${capacitySockets} sockets through nginx across (a)`);
      capacity = await runCapacity({
        sockets: capacitySockets,
        rampSeconds: seconds(args["capacity-ramp"]),
        holdSeconds: seconds(args["capacity-hold"]),
        dir: join(runDir, "capacity"),
        mongoUrl,
        cores: machine.cores,
        heapSnapshots: args["heap-snapshots"],
        progress: log,
      });
      log(
        `capacity: ${capacity.held} held, ${capacity.connectErrors} connect errors, ` +
          `heap ${(capacity.heapPerSocketBytes / 1024).toFixed(1)} KB/socket (${(capacity.marginalHeapPerSocketBytes / 1024).toFixed(1)} KB marginal)`,
      );
    });
  }

  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    quietness,
    scenario: args.scenario,
    load,
    ...(halfLoad ? { halfLoad } : {}),
    ...(maxLoad ? { bMaximum: maxLoad } : {}),
    persistenceSeconds,
    runs,
    capacity,
    goals: evaluateGoals(runs, persistenceSeconds, capacity, capacitySockets || 20_000),
    errors,
  };
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(report);
  writeFileSync(join(reportDir, `${name}.md`), markdown);
  console.log(`\n${markdown}`);
  log(`report: ${relative(ROOT, join(reportDir, `${name}.md`))} and .json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
