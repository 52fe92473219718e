// Bench-only preload after tsx (`node --import tsx --import <this> scripts/bench/gateway.ts`): tsx turns
// Node.js's source maps on, which keeps the map of every module it compiles in the heap. The image runs
// its services without them, so the bench gateways of (b) and (c) do too, and their heap compares with
// (a)'s. Never part of the product.
process.setSourceMapsEnabled(false);
