/**
 * MongoDB for machines without mongod: the FerretDB launcher built from infra/ferretdb (SQLite
 * handler). `scripts/setup.mjs` builds it into .cache/bin.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import { FERRETDB_LAUNCHER } from "./paths.js";
import { ManagedProcess } from "./process.js";

export interface FerretDb {
  /** `mongodb://127.0.0.1:<port>/`, without a database: append one per test file or service. */
  uri: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface FerretDbOptions {
  dataDir: string;
  /** @default 0 (a free port) */
  port?: number;
  /** `host:port` on which the launcher serves Go's /debug/pprof (benchmark profiles); none when absent. */
  debugAddr?: string | undefined;
}

export async function startFerretDb({ dataDir, port = 0, debugAddr }: FerretDbOptions): Promise<FerretDb> {
  if (!existsSync(FERRETDB_LAUNCHER)) {
    throw new Error(`${FERRETDB_LAUNCHER} is missing: run \`npm run setup\` to build it`);
  }
  const proc = new ManagedProcess({
    name: "ferretdb",
    command: FERRETDB_LAUNCHER,
    args: ["-listen", `127.0.0.1:${port}`, "-data", dataDir, "-exit-on-stdin-eof", ...(debugAddr ? ["-debug-addr", debugAddr] : [])],
    logFile: join(dataDir, "ferretdb.log"),
    stdinPipe: true,
  });
  let uri: string | undefined;
  await proc.waitUntil(async () => {
    uri ??= /"uri":"([^"]+)"/.exec(proc.logTail(5))?.[1];
    return uri !== undefined;
  }, 30_000, "listening");
  return { uri: uri!, process: proc, stop: () => proc.stop() };
}

/** `base` (a server URI, with or without a database) with its database set to `database`. */
export function withDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}
