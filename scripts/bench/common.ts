/** What the repository's benchmarks share: statistics, the machine's description, MongoDB, secrets. */
import { execFileSync } from "node:child_process";
import { cpus, release } from "node:os";
import { join } from "node:path";

import { startFerretDb, withDatabase, type FerretDb } from "../lib/ferretdb.js";

/** The JWT secret of every cluster a benchmark starts (throwaway data, never a real deployment). */
export const BENCH_JWT_SECRET = "bench-secret-that-is-at-least-32-characters-long";

/** The environment without empty variables, for zod to apply its defaults to them. */
export function definedEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""));
}

/** The nearest-rank `p` percentile (0..100) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function versionOf(command: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin` } });
    return pattern.exec(out)?.[1] ?? "unknown";
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    return pattern.exec(stderr)?.[1] ?? "unknown";
  }
}

/** The machine a benchmark ran on, and the versions of what it ran. */
export interface MachineInfo {
  /** `nproc`: the cores this process may use. */
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  nginx: string;
}

export function machineInfo(): MachineInfo {
  let cores = cpus().length;
  try {
    cores = Number(execFileSync("nproc", { encoding: "utf8" }).trim()) || cores;
  } catch {
    // nproc missing: os.cpus() it is.
  }
  let memoryGiB = 0;
  try {
    memoryGiB = Math.round(Number(/MemTotal:\s+(\d+)/.exec(execFileSync("cat", ["/proc/meminfo"], { encoding: "utf8" }))?.[1] ?? 0) / 1024 / 1024);
  } catch {
    // Not Linux.
  }
  return {
    cores,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB,
    kernel: release(),
    node: process.version,
    redis: versionOf("redis-server", ["--version"], /v=(\S+)/),
    nginx: versionOf("nginx", ["-v"], /nginx\/(\S+)/),
  };
}

/** One line: "2 × AMD EPYC, Node v20…". */
export function describeMachine(machine: MachineInfo = machineInfo()): string {
  return `${machine.cores} × ${machine.cpuModel}, Node ${machine.node}`;
}

/**
 * A MongoDB server for a benchmark's clusters: `MONGO_URL` when set, else an embedded FerretDB with its
 * data under `dir`. `database(name)` is the URL of one database on it.
 */
export async function benchMongo(mongoUrl: string | undefined, dir: string): Promise<{ database(name: string): string; stop(): Promise<void> }> {
  const ferret: FerretDb | undefined = mongoUrl ? undefined : await startFerretDb({ dataDir: join(dir, `ferretdb-${Date.now()}`) });
  const base = mongoUrl ?? ferret!.uri;
  return {
    database: (name) => withDatabase(base, name),
    stop: async () => {
      await ferret?.stop();
    },
  };
}
