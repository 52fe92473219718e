/**
 * The bench gateway's two variants of parley's gateway process. Each is made only by what it hands to
 * the product's `createGateway` (every feature and handler, the one message pipeline: deliver, then
 * queue, then acknowledge): socket.io's `adapter` server option and the persist queue, the two
 * dependencies the process builds for it anyway.
 *
 * - {@link inMemoryVariant}, target (b): socket.io's in-memory adapter, and a queue that drops the job of
 *   each new message, which is numbered by the same Redis script, delivered and acknowledged, never
 *   stored.
 * - {@link persistFirstVariant}, target (c): the Redis adapter as shipped, but it holds back each
 *   `message:new` fan-out of its gateway until the message is upserted into MongoDB, and the pipeline's
 *   job for the message waits for that same upsert instead of being queued: store, deliver, acknowledge.
 */
import { RedisAdapter } from "@socket.io/redis-adapter";
import { Job } from "bullmq";
import type { Namespace } from "socket.io";
import { Adapter, type BroadcastOptions } from "socket.io-adapter";

import type { Message } from "@parley/protocol";
import type { Logger } from "@parley/shared/logger";
import { messageToDoc, type Models } from "@parley/shared/models";
import type { PersistJobName, PersistJobs, PersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";

import type { GatewayDeps } from "../../services/gateway/src/app.js";
import type { GatewayProcess } from "../../services/gateway/src/main.js";

/** What a variant changes in the gateway the process builds. */
export type GatewayVariant = Pick<GatewayDeps, "adapter" | "queue">;

/** The pipeline's job for a message as sent; an edit, a deletion or a reaction carries a `rev`. */
function isNewMessage(name: PersistJobName, data: PersistJobs[PersistJobName]): data is Message {
  return name === "message" && !(data as Partial<Message>).rev;
}

/**
 * Makes `queue` hand each new message to `take` instead of queuing it, and resolve when `take` does;
 * every other job (edits, pointers, last-seen times) is queued as before. Returns `queue`.
 */
export function divertNewMessages(queue: PersistQueue, take: (message: Message) => Promise<void>): PersistQueue {
  const add = queue.add.bind(queue);
  queue.add = async (name, data, opts) => {
    if (!isNewMessage(name, data)) return add(name, data, opts);
    await take(data);
    // Never added: the pipeline only awaits it.
    return new Job(queue, name, data, opts, opts?.jobId);
  };
  return queue;
}

/**
 * Writes messages into MongoDB as the worker stores them (its document, upserted on the message id, so
 * a retried send stores nothing twice), one write per message while it is in flight.
 */
export class MessageWrites {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly models: Pick<Models, "Message">) {}

  /** Stores `message`; a call for the same message while its write is in flight joins that write. */
  store(message: Message): Promise<void> {
    const current = this.inFlight.get(message.id);
    if (current) return current;
    const write = this.upsert(message).finally(() => this.inFlight.delete(message.id));
    this.inFlight.set(message.id, write);
    return write;
  }

  private async upsert(message: Message): Promise<void> {
    const doc = messageToDoc(message);
    await this.models.Message.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
  }
}

/** socket.io-parser's EVENT packet type. */
const EVENT_PACKET = 2;

/** A packet as the Socket.IO server hands it to its adapter. */
interface BroadcastPacket {
  type: number;
  data?: unknown;
}

function newMessageIn(packet: BroadcastPacket): Message | undefined {
  const { data } = packet;
  return packet.type === EVENT_PACKET && Array.isArray(data) && data[0] === "message:new" ? (data[1] as Message) : undefined;
}

/**
 * The Redis adapter, except that a `message:new` broadcast made on this gateway is published and
 * delivered only once the message is stored. Broadcasts received from Redis do not pass here: the
 * Redis adapter hands them to the in-memory adapter's `broadcast` directly.
 */
class PersistFirstAdapter extends RedisAdapter {
  constructor(
    nsp: Namespace,
    pubClient: RedisClient,
    subClient: RedisClient,
    private readonly writes: MessageWrites,
    private readonly log: Logger,
  ) {
    super(nsp, pubClient, subClient);
  }

  override broadcast(packet: BroadcastPacket, opts: BroadcastOptions): void {
    const message = newMessageIn(packet);
    if (!message) return super.broadcast(packet, opts);
    // The pipeline's queue call, made in the same tick after this one, joins this write and answers the
    // send after it: the fan-out, registered first, runs first.
    this.writes.store(message).then(
      () => super.broadcast(packet, opts),
      (err: unknown) => this.log.error({ err, messageId: message.id }, "message not stored, so not delivered"),
    );
  }
}

/**
 * The Redis adapter on `pubClient` and `subClient`, holding back each `message:new` broadcast of its
 * node until `writes` has stored the message; for socket.io's `adapter` option.
 */
export function persistFirstAdapter(pubClient: RedisClient, subClient: RedisClient, writes: MessageWrites, log: Logger): GatewayDeps["adapter"] {
  // Socket.IO calls the adapter option with `new`, as it does `createAdapter`'s function: no arrow.
  return function (nsp: Namespace) {
    return new PersistFirstAdapter(nsp, pubClient, subClient, writes, log);
  };
}

/** Target (b): the ceiling of the stack, on socket.io's in-memory adapter and without persistence. */
export function inMemoryVariant(gatewayProcess: GatewayProcess): GatewayVariant {
  return { adapter: Adapter, queue: divertNewMessages(gatewayProcess.deps.queue, async () => {}) };
}

/** Target (c): "persist first, then emit", behind nginx like the product. */
export function persistFirstVariant(gatewayProcess: GatewayProcess): GatewayVariant {
  const { models, log, queue } = gatewayProcess.deps;
  const writes = new MessageWrites(models);
  const pubClient = gatewayProcess.connectRedis("gateway-pub");
  const subClient = gatewayProcess.connectRedis("gateway-sub", { blocking: true });
  return {
    adapter: persistFirstAdapter(pubClient, subClient, writes, log),
    queue: divertNewMessages(queue, (message) => writes.store(message)),
  };
}
