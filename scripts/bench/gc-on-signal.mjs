// Bench-only preload of the capacity run's gateways (`node --expose-gc --import <this> …`): a full
// garbage collection on SIGUSR2, so that the run reads the heap the sockets hold, without the garbage
// of the connection ramp. Never part of the product.
process.on("SIGUSR2", () => globalThis.gc?.());
