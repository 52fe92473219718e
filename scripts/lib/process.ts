/**
 * Child processes that the harness owns: started with their output in a log file, awaited until ready,
 * stopped with SIGTERM (then SIGKILL after a grace period), and killed if the harness itself exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * When set, every child's pid is recorded as a file in this directory until it exits, so that a
 * supervisor (the test run's global teardown) can kill what a killed harness process left behind:
 * the "exit" hook above does not run when the harness itself dies of a signal.
 */
export const PID_DIR_ENV = "PARLEY_PID_DIR";

/** Kills every process still recorded in `dir` (see {@link PID_DIR_ENV}) and empties it. */
export function killRecorded(dir: string): number {
  let killed = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    try {
      if (Number.isInteger(pid) && pid > 0) {
        process.kill(pid, "SIGKILL");
        killed++;
      }
    } catch {
      // Already gone.
    }
    rmSync(join(dir, entry), { force: true });
  }
  return killed;
}

export interface StartOptions {
  /** Name in error messages. */
  name: string;
  command: string;
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /**
   * Keep stdin open as a pipe (processes that exit when it closes, like the FerretDB launcher).
   * @default false
   */
  stdinPipe?: boolean;
}

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly options: StartOptions) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    const log = createWriteStream(options.logFile, { flags: "a" });
    this.child = spawn(options.command, options.args ?? [], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.stdinPipe ? "pipe" : "ignore", "pipe", "pipe"],
    });
    live.add(this.child);
    const pidDir = process.env[PID_DIR_ENV];
    const pidFile = pidDir && this.child.pid ? join(pidDir, String(this.child.pid)) : undefined;
    if (pidFile) {
      mkdirSync(pidDir!, { recursive: true });
      writeFileSync(pidFile, options.name);
    }
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        live.delete(this.child);
        if (pidFile) rmSync(pidFile, { force: true });
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", () => {
        live.delete(this.child);
        this.exitInfo = { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
    this.exited.then(() => log.end(), () => log.end());
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last lines of the log, for error messages. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.options.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /**
   * Polls `check` until it returns true, failing early with the log tail if the process exits.
   */
  async waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000, what = "ready"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`${this.options.name} exited (${JSON.stringify(this.exitInfo)}) before it was ${what}:\n${this.logTail()}`);
      }
      if (await check().catch(() => false)) return;
      await delay(50);
    }
    throw new Error(`${this.options.name} was not ${what} after ${timeoutMs} ms:\n${this.logTail()}`);
  }

  /** Sends `signal`, waits up to `graceMs`, then SIGKILLs. Resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL: a crash, as far as everyone else can tell. */
  async kill(): Promise<void> {
    await this.stop("SIGKILL", 0);
  }
}

/** GETs `url` and tells whether it answered 200. */
export async function isOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.status === 200;
}
