// Bench-only preload of the capacity run's gateways (`node --expose-gc --import <this> …`): a full
// garbage collection on SIGUSR2, so that the run reads the heap the sockets hold, without the garbage
// of the connection ramp. With PARLEY_HEAP_SNAPSHOT_DIR set, each collection is followed by a heap
// snapshot written there (`npm run bench -- --heap-snapshots`; compare two with heap-diff.ts).
// Never part of the product.
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";

const snapshotDir = process.env.PARLEY_HEAP_SNAPSHOT_DIR;
let snapshots = 0;

process.on("SIGUSR2", () => {
  globalThis.gc?.();
  if (snapshotDir) writeHeapSnapshot(join(snapshotDir, `gateway-${process.pid}-${++snapshots}.heapsnapshot`));
});
