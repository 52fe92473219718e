/**
 * CPU and memory of processes and of the machine, read from /proc (Linux): what every process of a
 * benchmark target costs, the load generator's included, and whether the machine was saturated.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const PAGE_SIZE = (() => {
  try {
    return Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
  } catch {
    return 4096;
  }
})();

interface ProcStat {
  pid: number;
  ppid: number;
  /** user + system CPU, seconds. */
  cpu: number;
  rssBytes: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: split after its closing one.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss (pages) 24.
    return {
      pid,
      ppid: Number(fields[1]),
      cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
      rssBytes: Number(fields[21]) * PAGE_SIZE,
    };
  } catch {
    return undefined;
  }
}

/** Every live process, by pid. */
function allProcesses(): Map<number, ProcStat> {
  const map = new Map<number, ProcStat>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) map.set(pid, stat);
  }
  return map;
}

/** The machine's CPU time from /proc/stat: busy and total, in seconds summed over every core. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const [, ...values] = line.trim().split(/\s+/);
  const ticks = values.map(Number);
  // user nice system idle iowait irq softirq steal (guest times are already in user/nice).
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** A named process to watch, with every descendant it has (nginx's workers) counted as part of it. */
export interface WatchedProcess {
  name: string;
  pid: number;
}

/** What one process cost over a sampling window. */
export interface ProcessUsage {
  /** CPU over the window, in % of one core (200 % is both cores of a 2-core machine). */
  cpuPercent: number;
  /** Resident memory: mean and peak over the window's samples, bytes. */
  rssMeanBytes: number;
  rssPeakBytes: number;
}

export interface UsageReport {
  seconds: number;
  processes: Record<string, ProcessUsage>;
  /** The machine's busy CPU over the window, in % of all cores (100 % = saturated). */
  machineBusyPercent: number;
  /** Highest busy % between two consecutive samples of the window. */
  machineBusyPeakPercent: number;
}

interface Snapshot {
  at: number;
  /** Cumulative CPU seconds per name, processes that exited included. */
  cpu: Map<string, number>;
  rss: Map<string, number>;
  machine: { busy: number; total: number };
}

/**
 * Samples named processes (and their descendants) every `intervalMs` from {@link start} until
 * {@link stop}, keeping every sample, so that {@link usage} can report any window of the run
 * afterwards (the steady part of a load test, once the ramp is over).
 */
export class ProcessSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly snapshots: Snapshot[] = [];
  /** The last CPU time of every pid ever seen under a name: a process that exits keeps what it used. */
  private readonly seen = new Map<string, Map<number, number>>();

  constructor(
    private readonly watched: () => readonly WatchedProcess[],
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.snapshots.push(this.sample());
    this.timer = setInterval(() => this.snapshots.push(this.sample()), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.snapshots.push(this.sample());
  }

  /** Usage between the samples nearest to `from` and `to` (ms since the epoch; default: everything). */
  usage(from = -Infinity, to = Infinity): UsageReport {
    const inWindow = this.snapshots.filter((s) => s.at >= from && s.at <= to);
    const window = inWindow.length >= 2 ? inWindow : this.snapshots.slice(-2);
    const first = window[0]!;
    const last = window.at(-1)!;
    const seconds = Math.max((last.at - first.at) / 1000, 1e-9);
    const processes: Record<string, ProcessUsage> = {};
    for (const [name, cpu] of last.cpu) {
      const rss = window.map((s) => s.rss.get(name) ?? 0);
      processes[name] = {
        cpuPercent: (100 * (cpu - (first.cpu.get(name) ?? 0))) / seconds,
        rssMeanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
        rssPeakBytes: Math.max(...rss),
      };
    }
    let peak = 0;
    for (let i = 1; i < window.length; i++) {
      const total = window[i]!.machine.total - window[i - 1]!.machine.total;
      if (total > 0) peak = Math.max(peak, (100 * (window[i]!.machine.busy - window[i - 1]!.machine.busy)) / total);
    }
    const total = last.machine.total - first.machine.total;
    return {
      seconds,
      processes,
      machineBusyPercent: (100 * (last.machine.busy - first.machine.busy)) / Math.max(total, 1e-9),
      machineBusyPeakPercent: peak,
    };
  }

  private sample(): Snapshot {
    const at = Date.now();
    const all = allProcesses();
    const children = new Map<number, number[]>();
    for (const stat of all.values()) {
      const list = children.get(stat.ppid) ?? [];
      list.push(stat.pid);
      children.set(stat.ppid, list);
    }
    const cpu = new Map<string, number>();
    const rss = new Map<string, number>();
    for (const { name, pid } of this.watched()) {
      const seen = this.seen.get(name) ?? new Map<number, number>();
      this.seen.set(name, seen);
      let bytes = 0;
      const stack = [pid];
      while (stack.length > 0) {
        const p = stack.pop()!;
        const stat = all.get(p);
        if (!stat) continue;
        seen.set(p, stat.cpu);
        bytes += stat.rssBytes;
        stack.push(...(children.get(p) ?? []));
      }
      cpu.set(name, [...seen.values()].reduce((a, b) => a + b, 0));
      rss.set(name, bytes);
    }
    return { at, cpu, rss, machine: machineCpu() };
  }
}

/**
 * Records `seconds` of a Go program's CPU profile from its net/http/pprof endpoint at `addr` into
 * `file` (read it with `go tool pprof`).
 */
export async function captureGoProfile(addr: string, seconds: number, file: string): Promise<void> {
  const res = await fetch(`http://${addr}/debug/pprof/profile?seconds=${seconds}`, {
    signal: AbortSignal.timeout((seconds + 30) * 1000),
  });
  if (!res.ok) throw new Error(`pprof at ${addr} answered ${res.status}`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
}
