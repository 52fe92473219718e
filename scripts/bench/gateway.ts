/**
 * Bench-only gateway entry point: the real gateway process (`runGateway`, every feature and handler)
 * of services/gateway/src/main.ts, with one of two hooks set by `BENCH_GATEWAY`:
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
import { Adapter } from "socket.io-adapter";
import { z } from "zod";

import type { MessagePersistence } from "@parley/shared/messages/message-pipeline";
import { messageToDoc, type Models } from "@parley/shared/models";

import { runGateway } from "../../services/gateway/src/main.js";

/** The bench gateway's variants, by `BENCH_GATEWAY`. */
export const BENCH_GATEWAY_MODES = ["in-memory", "persist-first"] as const;
export type BenchGatewayMode = (typeof BENCH_GATEWAY_MODES)[number];

const mode = z.enum(BENCH_GATEWAY_MODES).parse(process.env.BENCH_GATEWAY);

/** One upsert per message, keyed by its id: a retried send stores nothing twice, as in the worker. */
function persistFirst({ Message }: Models): MessagePersistence {
  return {
    order: "before-delivery",
    persist: async (message) => {
      const doc = messageToDoc(message);
      await Message.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
    },
  };
}

await runGateway({
  adapterConnections: mode !== "in-memory",
  overrides: (models) =>
    mode === "in-memory"
      ? { adapter: Adapter, persistence: { order: "after-delivery", persist: async () => {} } }
      : { persistence: persistFirst(models) },
  logFields: { mode },
});
