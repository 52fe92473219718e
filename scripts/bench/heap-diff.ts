/**
 * What a gateway's heap holds per socket: compares two V8 heap snapshots of one process (idle, then
 * holding N sockets; `npm run bench -- --heap-snapshots` writes them) and prints the object groups
 * that grew, in bytes per socket, largest first.
 *
 *   npx tsx scripts/bench/heap-diff.ts <idle.heapsnapshot> <held.heapsnapshot> <sockets> [--top 30]
 *
 * Objects are grouped by V8 node type and name: constructor names for objects, function names for
 * closures, one group per type for strings and numbers. Sizes are shallow (each object's own bytes),
 * so the groups add up to the heap's growth.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Types whose names are contents, not kinds: one group each. */
const GROUPED_BY_TYPE = new Set(["string", "concatenated string", "sliced string", "number", "bigint", "symbol"]);

export interface HeapGroups {
  /** Shallow bytes and object count per group. */
  groups: Map<string, { bytes: number; count: number }>;
  totalBytes: number;
}

export function summarize(path: string): HeapGroups {
  const data = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { bytes: number; count: number }>();
  let totalBytes = 0;
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    const size = data.nodes[i + sizeAt]!;
    const key = GROUPED_BY_TYPE.has(type) ? `(${type})` : `${type}: ${data.strings[data.nodes[i + nameAt]!]!.slice(0, 80)}`;
    const group = groups.get(key);
    if (group) {
      group.bytes += size;
      group.count++;
    } else groups.set(key, { bytes: size, count: 1 });
    totalBytes += size;
  }
  return { groups, totalBytes };
}

export interface GroupGrowth {
  group: string;
  bytesPerSocket: number;
  objectsPerSocket: number;
}

/** Groups that grew from `idle` to `held`, per socket, largest growth first. */
export function growth(idle: HeapGroups, held: HeapGroups, sockets: number): GroupGrowth[] {
  const out: GroupGrowth[] = [];
  for (const [group, after] of held.groups) {
    const before = idle.groups.get(group) ?? { bytes: 0, count: 0 };
    out.push({ group, bytesPerSocket: (after.bytes - before.bytes) / sockets, objectsPerSocket: (after.count - before.count) / sockets });
  }
  return out.sort((a, b) => b.bytesPerSocket - a.bytesPerSocket);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" } } });
  const [idlePath, heldPath, socketsArg] = positionals;
  const sockets = Number(socketsArg);
  if (!idlePath || !heldPath || !(sockets > 0)) {
    console.error("usage: heap-diff.ts <idle.heapsnapshot> <held.heapsnapshot> <sockets> [--top N]");
    process.exit(2);
  }
  const idle = summarize(idlePath);
  const held = summarize(heldPath);
  const rows = growth(idle, held, sockets);
  const total = (held.totalBytes - idle.totalBytes) / sockets;
  // Compiled code and its feedback grow once, as the first connections warm the JIT up: not per socket.
  const code = rows.filter((r) => r.group.startsWith("code:")).reduce((sum, r) => sum + r.bytesPerSocket, 0);
  console.log(`heap growth: ${(total / 1024).toFixed(2)} KB per socket (${sockets} sockets)`);
  console.log(`  of which compiled code (JIT warm-up, a one-off): ${(code / 1024).toFixed(2)} KB; the rest: ${((total - code) / 1024).toFixed(2)} KB\n`);
  console.log("bytes/socket  objects/socket  group");
  for (const row of rows.slice(0, Number(values.top))) {
    console.log(`${row.bytesPerSocket.toFixed(0).padStart(12)}  ${row.objectsPerSocket.toFixed(2).padStart(14)}  ${row.group}`);
  }
}
