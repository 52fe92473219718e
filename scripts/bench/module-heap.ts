/**
 * What loading a library costs an idle process's heap: imports each module named, alone, in a fresh
 * Node.js process, and prints the heap it adds, read after a full GC before and after the import.
 * Dependencies that two modules share count in each.
 *
 *   npx tsx scripts/bench/module-heap.ts [--from services/gateway] mongoose bullmq zod …
 *
 * `--from` is the folder modules are resolved from (services/gateway: what a gateway loads).
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs, promisify } from "node:util";

import { ROOT } from "../lib/paths.js";

const run = promisify(execFile);

/** Measures in the child: heap used after a full GC, before and after importing the module. */
const PROBE = `
const settled = async () => { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); globalThis.gc(); return process.memoryUsage().heapUsed; };
const before = await settled();
await import(process.argv[1]);
const after = await settled();
console.log(JSON.stringify({ before, after }));
`;

/** Heap bytes that importing `specifier` adds to a fresh Node.js process started in `from`. */
export async function moduleHeapBytes(specifier: string, from: string): Promise<number> {
  try {
    const { stdout } = await run(process.execPath, ["--expose-gc", "--input-type=module", "-e", PROBE, specifier], { cwd: from });
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    return after - before;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    const reason = /Cannot find (?:package|module) '[^']+'/.exec(stderr)?.[0] ?? (err as Error).message;
    throw new Error(`cannot import ${specifier} from ${from}: ${reason}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { from: { type: "string", default: "services/gateway" } }, allowPositionals: true });
  if (positionals.length === 0) {
    console.error("usage: module-heap.ts [--from dir] <module> [<module> …]");
    process.exit(2);
  }
  const from = resolve(ROOT, values.from);
  for (const specifier of positionals) {
    const bytes = await moduleHeapBytes(specifier, from);
    console.log(`${(bytes / 1024 / 1024).toFixed(2).padStart(7)} MiB  ${specifier}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
