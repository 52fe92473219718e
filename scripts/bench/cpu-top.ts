/**
 * Where a Node.js process spent its CPU: reads a V8 `.cpuprofile` (`npm run bench -- --profile` writes
 * one per gateway) and prints self time by package (node_modules/<package>, Node.js internals, parley's
 * own services, GC, idle) and by function, then each function's total time (on the stack), largest
 * first, in % of the busy (non-idle) samples.
 *
 *   npx tsx scripts/bench/cpu-top.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

/** The package a script belongs to: `ws`, `@socket.io/redis-adapter`, `node:internal`, `parley/gateway`… */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node:internal";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const [first, second] = url.slice(modules + "/node_modules/".length).split("/");
    return first?.startsWith("@") ? `${first}/${second}` : (first ?? url);
  }
  const service = /\/services\/([^/]+)\//.exec(url);
  return service ? `parley/${service[1]}` : url;
}

export interface CpuTop {
  busySamples: number;
  idleShare: number;
  byPackage: [string, number][];
  byFunction: [string, number][];
  /** Share of the busy samples in which each function is on the stack (itself or its callees). */
  inclusive: [string, number][];
}

export function summarizeProfile(profile: CpuProfile): CpuTop {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const nameOf = ({ functionName, url, lineNumber }: ProfileNode["callFrame"]) =>
    `${functionName || "(anonymous)"} ${packageOf(url, functionName)}${url ? `:${lineNumber + 1}` : ""}`;
  let idle = 0;
  for (const id of profile.samples) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idle++;
      continue;
    }
    const pkg = packageOf(frame.url, frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + 1);
    const fn = nameOf(frame);
    functions.set(fn, (functions.get(fn) ?? 0) + 1);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const node = nodes.get(at);
      if (node && node.callFrame.functionName !== "(root)") onStack.add(nameOf(node.callFrame));
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
  }
  const busy = profile.samples.length - idle;
  const shares = (m: Map<string, number>) => [...m].map(([k, v]): [string, number] => [k, v / busy]).sort((a, b) => b[1] - a[1]);
  return {
    busySamples: busy,
    idleShare: idle / profile.samples.length,
    byPackage: shares(packages),
    byFunction: shares(functions),
    inclusive: shares(inclusive),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "25" } } });
  const [file] = positionals;
  if (!file) {
    console.error("usage: cpu-top.ts <file.cpuprofile> [--top N]");
    process.exit(2);
  }
  const top = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)} %`;
  console.log(`${top.busySamples} busy samples, idle ${(top.idleShare * 100).toFixed(0)} % of the profile\n\nself time by package:`);
  for (const [name, share] of top.byPackage.slice(0, Number(values.top))) console.log(`${pct(share)}  ${name}`);
  console.log("\nself time by function:");
  for (const [name, share] of top.byFunction.slice(0, Number(values.top))) console.log(`${pct(share)}  ${name}`);
  console.log("\ntotal time (on the stack) by function:");
  for (const [name, share] of top.inclusive.slice(0, Number(values.top) * 2)) console.log(`${pct(share)}  ${name}`);
}
