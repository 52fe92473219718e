/**
 * Bench-only gateway entry point: parley's gateway process (services/gateway/src/main.ts: the same
 * configuration, connections, `createGateway` with every feature and handler, drain), built with one of
 * the variants of scripts/bench/gateway-variants.ts, chosen by `BENCH_GATEWAY`:
 *
 * - `in-memory`: target (b), the ceiling of the stack. socket.io's in-memory adapter instead of the
 *   Redis adapter, and no persistence: messages are numbered by the same Redis script, delivered and
 *   acknowledged, never queued. Run alone, without nginx. (The other features still queue their rare
 *   pointer and last-seen jobs; nothing drains them.)
 * - `persist-first`: target (c), "persist first, then emit". The Redis adapter as shipped, but each
 *   message is written to MongoDB (one idempotent upsert, the worker's own document) before it is
 *   delivered and acknowledged. Run behind nginx like the product.
 *
 * Started by `npm run bench` with `node --import tsx`; never part of the product.
 */
import { z } from "zod";

import { createGateway } from "../../services/gateway/src/app.js";
import { GatewayProcess } from "../../services/gateway/src/main.js";
import { inMemoryVariant, persistFirstVariant } from "./gateway-variants.js";

/** The bench gateway's variants, by `BENCH_GATEWAY`. */
export const BENCH_GATEWAY_MODES = ["in-memory", "persist-first"] as const;
export type BenchGatewayMode = (typeof BENCH_GATEWAY_MODES)[number];

const mode = z.enum(BENCH_GATEWAY_MODES).parse(process.env.BENCH_GATEWAY);

const gatewayProcess = await GatewayProcess.open();
gatewayProcess.deps.log.info({ mode }, "bench gateway variant");
const variant = mode === "in-memory" ? inMemoryVariant(gatewayProcess) : persistFirstVariant(gatewayProcess);
await gatewayProcess.serve(createGateway({ ...gatewayProcess.deps, ...variant }));
