/**
 * Builds the web app when its sources changed, and starts one FerretDB for the whole run (unless
 * MONGO_URL points at a real MongoDB). Each test file then works in a database of its own, so no test
 * sees another's data.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

import type { TestProject } from "vitest/node";

import { startFerretDb } from "../scripts/lib/ferretdb.js";
import { RUN_DIR, TEST_DIR_ENV } from "../scripts/lib/paths.js";
import { PID_DIR_ENV, killRecorded } from "../scripts/lib/process.js";
import { ensureWebBuild } from "../scripts/lib/web.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** MongoDB server URI without a database. */
    mongoUri: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  removeFinishedRuns();
  // Once for the run, before any cluster's nginx serves it (the browser tests open it).
  ensureWebBuild((message) => console.error(`global setup: ${message}`));
  const runDir = join(RUN_DIR, `test-${process.pid}`);
  // Inherited by the test workers: every process they start is recorded here until it exits.
  const pidDir = join(runDir, "pids");
  process.env[PID_DIR_ENV] = pidDir;
  // Inherited too: where this run's clusters and redis-servers keep their logs (see testDir).
  process.env[TEST_DIR_ENV] = join(runDir, "tests");
  const ferret = process.env.MONGO_URL ? undefined : await startFerretDb({ dataDir: join(runDir, "ferretdb") });
  project.provide("mongoUri", ferret?.uri ?? process.env.MONGO_URL!);
  return async () => {
    await ferret?.stop();
    const orphans = killRecorded(pidDir);
    if (orphans > 0) console.warn(`global teardown: killed ${orphans} process(es) left behind by test workers`);
    // The logs stay for a post-mortem until a later run removes them; the data goes now.
    rmSync(join(runDir, "ferretdb"), { recursive: true, force: true });
    rmSync(pidDir, { recursive: true, force: true });
  };
}

/** Removes the directories of earlier runs whose process is gone; concurrent runs keep theirs. */
function removeFinishedRuns(): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(RUN_DIR);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = /^test-(\d+)$/.exec(entry)?.[1];
    if (pid && !isAlive(Number(pid))) rmSync(join(RUN_DIR, entry), { recursive: true, force: true });
  }
  rmSync(join(RUN_DIR, "tests"), { recursive: true, force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
