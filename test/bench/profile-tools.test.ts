/**
 * The bench's readers of heap snapshots (heap-diff.ts) and CPU profiles (cpu-top.ts), on small inputs,
 * and its measure of what a library adds to an idle heap (module-heap.ts).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { packageOf, summarizeProfile } from "../../scripts/bench/cpu-top.js";
import { growth, summarize } from "../../scripts/bench/heap-diff.js";
import { moduleHeapBytes } from "../../scripts/bench/module-heap.js";
import { ROOT } from "../../scripts/lib/paths.js";
import { testDir } from "../helpers/env.js";

/** A V8 heap snapshot with the given nodes (type, name, self size), and no edges. */
function snapshot(nodes: [string, string, number][]): string {
  const types = ["hidden", "array", "string", "object", "code", "closure"];
  const strings: string[] = [];
  const flat = nodes.flatMap(([type, name, size], id) => {
    strings.push(name);
    return [types.indexOf(type), strings.length - 1, id, size, 0];
  });
  const file = join(testDir("heap-diff"), "heap.heapsnapshot");
  writeFileSync(
    file,
    JSON.stringify({
      snapshot: { meta: { node_fields: ["type", "name", "id", "self_size", "edge_count"], node_types: [types] } },
      nodes: flat,
      strings,
    }),
  );
  return file;
}

describe("heap-diff", () => {
  it("groups objects by constructor and strings by type, and reports the growth per socket, largest first", () => {
    const idle = summarize(snapshot([["object", "Socket", 100], ["string", "a", 20]]));
    const held = summarize(
      snapshot([
        ["object", "Socket", 100],
        ["object", "Socket", 100],
        ["object", "Socket", 100],
        ["string", "b", 20],
        ["string", "c", 40],
        ["closure", "listener", 56],
      ]),
    );
    expect(held.totalBytes).toBe(416);
    const rows = growth(idle, held, 2);
    expect(rows.slice(0, 3)).toEqual([
      { group: "object: Socket", bytesPerSocket: 100, objectsPerSocket: 1 },
      { group: "closure: listener", bytesPerSocket: 28, objectsPerSocket: 0.5 },
      { group: "(string)", bytesPerSocket: 20, objectsPerSocket: 0.5 },
    ]);
  });
});

describe("cpu-top", () => {
  it("names the package of a script", () => {
    expect(packageOf("file:///app/node_modules/ws/lib/sender.js", "sendFrame")).toBe("ws");
    expect(packageOf("file:///app/node_modules/@socket.io/redis-adapter/dist/index.js", "f")).toBe("@socket.io/redis-adapter");
    expect(packageOf("file:///app/services/gateway/dist/app.js", "f")).toBe("parley/gateway");
    expect(packageOf("node:internal/stream_base_commons", "writevGeneric")).toBe("node:internal");
    expect(packageOf("", "(garbage collector)")).toBe("(garbage collector)");
    expect(packageOf("", "writev")).toBe("(native)");
  });

  it("shares self and total time among the busy samples", () => {
    const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
    const top = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2, 3] },
        { id: 2, callFrame: frame("(idle)") },
        { id: 3, callFrame: frame("broadcast", "file:///a/node_modules/socket.io-adapter/x.js"), children: [4] },
        { id: 4, callFrame: frame("writev") },
      ],
      samples: [2, 2, 3, 4, 4, 4],
    });
    expect(top.busySamples).toBe(4);
    expect(top.idleShare).toBeCloseTo(2 / 6);
    expect(top.byPackage).toEqual([["(native)", 0.75], ["socket.io-adapter", 0.25]]);
    expect(top.inclusive[0]).toEqual(["broadcast socket.io-adapter:1", 1]);
  });
});

describe("module-heap", () => {
  const gateway = join(ROOT, "services/gateway");

  it("reads what a library adds to a fresh process's heap, and nothing for a module already loaded", async () => {
    // zod's classic API is a few MiB of code and schemas; node:path is loaded before any import.
    expect(await moduleHeapBytes("zod", gateway)).toBeGreaterThan(1024 * 1024);
    expect(Math.abs(await moduleHeapBytes("node:path", gateway))).toBeLessThan(64 * 1024);
  });

  it("says which module it could not import, and from where", async () => {
    await expect(moduleHeapBytes("no-such-package-here", gateway)).rejects.toThrow(
      `cannot import no-such-package-here from ${gateway}: Cannot find package 'no-such-package-here'`,
    );
  });
});
