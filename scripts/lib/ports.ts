import { createServer } from "node:net";

/**
 * Ports for the processes the harness starts.
 *
 * Asking the OS for a free port and binding it later is a race: between the two, another harness
 * running at the same time (a second vitest fork starting its own cluster) can be handed the same port.
 * So each vitest fork takes ports from a range of its own (`VITEST_POOL_ID` tells which), below the
 * kernel's ephemeral range (32768+) where outgoing connections get their ports, and one process never
 * hands out a port twice. Each process starts at a random place in its range, so that two test runs
 * on one machine (whose forks share pool ids) rarely reach for the same port: a port that one run's
 * restarted service left free for a moment is otherwise the very next one the other run tries.
 * Outside vitest (`npm start`, benchmarks) the OS picks.
 */
const RANGE_START = 20_000;
const RANGE_SIZE = 1_500;
const handedOut = new Set<number>();
let next = Math.floor(Math.random() * RANGE_SIZE);

function poolId(): number | undefined {
  const id = Number(process.env.VITEST_POOL_ID);
  return Number.isInteger(id) && id >= 1 && id <= 8 ? id : undefined;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port of the OS's choosing that was free a moment ago. */
function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A TCP port on 127.0.0.1 that no other harness of this machine's test run will be given. */
export async function freePort(): Promise<number> {
  const pool = poolId();
  if (pool === undefined) {
    for (;;) {
      const port = await osPort();
      if (!handedOut.has(port)) {
        handedOut.add(port);
        return port;
      }
    }
  }
  const start = RANGE_START + (pool - 1) * RANGE_SIZE;
  for (let tried = 0; tried < RANGE_SIZE; tried++) {
    const port = start + (next++ % RANGE_SIZE);
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port left in ${start}..${start + RANGE_SIZE - 1}`);
}
