/**
 * Presence: cluster-wide, multi-device and crash-safe.
 *
 * A socket is registered in Redis when its session starts and removed when it disconnects; a user whose
 * first socket arrives or whose last one leaves is announced with `presence:update` to the rooms of
 * their conversations (never to everyone), except to the users with whom they have a block.
 * `presence:query` answers only for contacts (see presence-visibility.ts), `unknown` for anyone else.
 *
 * Every gateway heartbeats its node and periodically reaps nodes whose heartbeat is older than the TTL:
 * it removes their sockets, announces the users who went offline, persists their lastSeen, and reports
 * the removed sockets through {@link PresenceHooks.onSocketsGone}.
 */
import { randomBytes } from "node:crypto";

import { conversationRoom, userRoom } from "@parley/shared/events";
import type { Presence } from "@parley/protocol";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import type { GatewaySocket } from "../lib/types.js";
import { checkPresenceConfig } from "./presence.config.js";
import { PresenceStore, type SocketRef } from "./presence-store.js";
import { visiblePresence } from "./presence-visibility.js";

export type { SocketRef } from "./presence-store.js";

/** Ways for other features to react to presence, wired in `createGateway` (features never import each other). */
export interface PresenceHooks {
  /**
   * Sockets that vanished with a dead gateway, found by this gateway's reaper. Their own `disconnect`
   * handlers never ran, so whatever they held (a call) must be cleaned up here. Errors are logged.
   */
  onSocketsGone?(sockets: readonly SocketRef[]): Promise<void>;
}

/** Dead nodes one reaper claims per round. */
const REAP_CLAIM_LIMIT = 10;

/** Who hears of a user's presence change: their conversation rooms, but not the user rooms in `hidden`. */
interface Audience {
  rooms: readonly string[];
  /** The user rooms of the user's block peers. */
  hidden: readonly string[];
}

interface LocalSocket extends SocketRef {
  socket: GatewaySocket;
  /** The socket's Redis operations, in order (register, re-register, unregister). */
  chain: Promise<void>;
  /** The node incarnation it is registered under, once registered. */
  registeredAs?: string;
  /** Disconnected: nothing may register it any more. */
  gone: boolean;
}

export function presenceFeature(ctx: FeatureContext, hooks: PresenceHooks = {}): GatewayFeature {
  const { io, config, log, redis, keys, cache, blocks, queue, onEvent } = ctx;
  checkPresenceConfig(config);
  const store = new PresenceStore(redis, keys);
  const sockets = new Map<string, LocalSocket>();
  /** Local sockets per user that are (being) registered, so the node's user set is pruned safely. */
  const userSocketCounts = new Map<string, number>();

  /** This process's node in Redis; a new incarnation whenever it has to register again. */
  let node = ctx.node;
  /** The heartbeat this node wrote last; undefined while it is not registered. */
  let lastBeat: number | undefined;
  /** Resolves with whether `node` is registered: sockets are only recorded under a registered node. */
  let registered: Promise<boolean> = Promise.resolve(false);
  let registeringNode = false;
  let timer: NodeJS.Timeout | undefined;
  let beating = false;
  let reaping: Promise<void> | undefined;
  let stopping = false;
  /**
   * While the gateway drains, sockets that close are unregistered only at stop, once their users had
   * time to reconnect to another gateway: those users never appear offline.
   */
  let draining = false;
  const drained = new Map<LocalSocket, string[]>();

  /** Nobody hears of a user whose audience is unknown (its lookup failed). */
  const announce = (userId: string, audience: Audience | undefined, presence: Presence) => {
    if (!audience || audience.rooms.length === 0) return;
    try {
      io.to([...audience.rooms]).except([userRoom(userId), ...audience.hidden]).emit("presence:update", { userId, ...presence });
    } catch (err) {
      log.error({ err, userId }, "presence:update not emitted");
    }
  };

  /**
   * The user rooms of `userId`'s block peers, who must not hear of their presence; undefined when the
   * lookup failed (the change then goes unannounced). Read before the change it goes with, so that the
   * announcement leaves right after the change and cannot overtake a newer one (see {@link lookupAudiences}).
   */
  const hiddenFrom = async (userId: string): Promise<string[] | undefined> => {
    try {
      return (await blocks.peersOf(userId)).map(userRoom);
    } catch (err) {
      log.error({ err, userId }, "block peers not found, this presence:update will not be sent");
      return undefined;
    }
  };

  const persistLastSeen = (userId: string, lastSeen: string) => {
    queue.add("last-seen", { userId, lastSeen }).catch((err: unknown) => log.error({ err, userId }, "last-seen not queued"));
  };

  /** Runs `step` after every earlier step of the same socket; never rejects. */
  const enqueue = (entry: LocalSocket, what: string, step: () => Promise<void>) => {
    entry.chain = entry.chain.then(step).catch((err: unknown) => log.error({ err, userId: entry.userId, socketId: entry.socketId }, what));
    return entry.chain;
  };

  const registerStep = (entry: LocalSocket) => async () => {
    if (entry.gone || stopping) return;
    if (!(await registered)) throw new Error("presence node is not registered");
    const current = node;
    await store.addNodeUser(current, entry.userId);
    const hidden = await hiddenFrom(entry.userId);
    const { online, lastSeen } = await store.connect(current, entry);
    entry.registeredAs = current;
    if (online) announce(entry.userId, hidden && { rooms: conversationRooms(entry.socket), hidden }, { status: "online", lastSeen });
  };

  const register = (socket: GatewaySocket) => {
    if (socket.disconnected || stopping) return Promise.resolve();
    const entry: LocalSocket = { userId: socket.data.userId, socketId: socket.id, socket, chain: Promise.resolve(), gone: false };
    sockets.set(socket.id, entry);
    userSocketCounts.set(entry.userId, (userSocketCounts.get(entry.userId) ?? 0) + 1);
    return enqueue(entry, "presence registration failed", registerStep(entry));
  };

  const unregister = (entry: LocalSocket, rooms: readonly string[]) => {
    entry.gone = true;
    sockets.delete(entry.socketId);
    return enqueue(entry, "presence unregistration failed", async () => {
      try {
        if (entry.registeredAs === undefined) return;
        const hidden = await hiddenFrom(entry.userId);
        const now = new Date();
        if (await store.disconnect(entry.registeredAs, entry, now)) {
          const lastSeen = now.toISOString();
          announce(entry.userId, hidden && { rooms, hidden }, { status: "offline", lastSeen });
          persistLastSeen(entry.userId, lastSeen);
        }
      } finally {
        // Decided and sent synchronously once the socket's field is gone: a registration of the same
        // user that starts later sends its SADD after this SREM, so a user with a socket on this node is
        // always in the node's user set.
        const left = (userSocketCounts.get(entry.userId) ?? 1) - 1;
        if (left > 0) userSocketCounts.set(entry.userId, left);
        else {
          userSocketCounts.delete(entry.userId);
          await store.removeNodeUser(node, entry.userId);
        }
      }
    });
  };

  /**
   * Registers a new incarnation of this node and every local socket under it: at start, after a failed
   * registration, or when this process finds it was declared dead (it stalled past the TTL) and reaped.
   */
  const registerNode = () => {
    const current = (node = newIncarnation(ctx.node));
    lastBeat = undefined;
    registeringNode = true;
    registered = store.registerNode(current).then(
      (beat) => {
        if (node === current) lastBeat = beat;
        return true;
      },
      (err: unknown) => {
        log.error({ err, incarnation: current }, "presence node not registered, retrying at the next heartbeat");
        return false;
      },
    );
    void registered.finally(() => {
      if (node === current) registeringNode = false;
    });
    for (const entry of sockets.values()) enqueue(entry, "presence registration failed", registerStep(entry));
  };

  const beat = async () => {
    if (beating || stopping || registeringNode) return;
    beating = true;
    try {
      if (lastBeat === undefined) registerNode();
      else {
        const next = await store.heartbeat(node, lastBeat);
        if (next !== undefined) lastBeat = next;
        else {
          log.warn({ incarnation: node }, "presence node was reaped while alive, re-registering its sockets");
          registerNode();
        }
      }
    } catch (err) {
      log.error({ err }, "presence heartbeat failed");
    } finally {
      beating = false;
    }
    reaping ??= reapDeadNodes()
      .catch((err: unknown) => log.error({ err }, "presence reaper failed"))
      .finally(() => {
        reaping = undefined;
      });
  };

  /**
   * The audience of each user: the rooms of their cached conversations (a dead node's sockets took
   * theirs along) without their block peers, in one lookup for the batch. Looked up before the users are
   * reaped, so that an offline update leaves right after the change it announces and cannot overtake a
   * newer online update. Empty when the lookup failed: those users go offline unannounced.
   */
  const lookupAudiences = async (userIds: readonly string[]): Promise<Map<string, Audience>> => {
    try {
      const [conversations, peers] = await Promise.all([cache.conversationsOfUsers(userIds), blocks.peersOfUsers(userIds)]);
      return new Map(
        [...conversations].map(([userId, ids]) => [userId, { rooms: ids.map(conversationRoom), hidden: (peers.get(userId) ?? []).map(userRoom) }]),
      );
    } catch (err) {
      log.error({ err, users: userIds.length }, "audience of reaped users not found, their presence:update will not be sent");
      return new Map();
    }
  };

  const reapNode = async (node: string) => {
    const started = Date.now();
    let users = 0;
    let offline = 0;
    for await (const batch of store.nodeUsers(node)) {
      const audiences = await lookupAudiences(batch);
      const gone: SocketRef[] = [];
      // Each user's reap is one script and its announcement follows it; users are independent.
      await Promise.all(
        batch.map(async (userId) => {
          const now = new Date();
          const reaped = await store.reapUser(node, userId, now);
          for (const socketId of reaped.socketIds) gone.push({ userId, socketId });
          if (!reaped.offline) return;
          offline++;
          const lastSeen = now.toISOString();
          announce(userId, audiences.get(userId), { status: "offline", lastSeen });
          persistLastSeen(userId, lastSeen);
        }),
      );
      users += batch.length;
      if (gone.length > 0 && hooks.onSocketsGone) {
        await hooks.onSocketsGone(gone).catch((err: unknown) => log.error({ err, deadNode: node }, "presence onSocketsGone hook failed"));
      }
      await store.renewClaim(node, config.PRESENCE_NODE_TTL_MS, config.PRESENCE_NODE_TTL_MS);
    }
    await store.removeNode(node);
    log.warn({ deadNode: node, users, offline, ms: Date.now() - started }, "reaped a dead gateway node");
  };

  const reapDeadNodes = async () => {
    for (;;) {
      const dead = await store.claimDeadNodes(config.PRESENCE_NODE_TTL_MS, config.PRESENCE_NODE_TTL_MS, REAP_CLAIM_LIMIT);
      for (const node of dead) {
        if (stopping) return;
        await reapNode(node);
      }
      if (dead.length < REAP_CLAIM_LIMIT) return;
    }
  };

  onEvent("presence:query", async (socket, { userIds }) => {
    const conversationIds = conversationRooms(socket).map((room) => room.slice(CONVERSATION_ROOM_PREFIX.length));
    return { presence: await visiblePresence({ redis, keys, cache, blocks }, socket.data.userId, conversationIds, userIds) };
  });

  return {
    name: "presence",
    onConnection(socket) {
      socket.on("disconnecting", () => {
        const entry = sockets.get(socket.id);
        if (!entry || stopping) return;
        if (draining) drained.set(entry, conversationRooms(socket));
        else void unregister(entry, conversationRooms(socket));
      });
    },
    onSession(socket) {
      return register(socket);
    },
    start() {
      registerNode();
      timer = setInterval(() => void beat(), config.PRESENCE_HEARTBEAT_MS);
      timer.unref();
    },
    drain() {
      draining = true;
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      await reaping;
      await Promise.all([...drained].map(([entry, rooms]) => unregister(entry, rooms)));
      // Unregister every socket now rather than in their disconnect handlers, which run while the
      // process closes its connections: the users who go offline are announced before this resolves.
      await Promise.all([...sockets.values()].map((entry) => unregister(entry, conversationRooms(entry.socket))));
      await store.removeNode(node).catch((err: unknown) => log.error({ err }, "presence node not removed"));
    },
  };
}

function newIncarnation(node: string): string {
  return `${node}~${randomBytes(4).toString("hex")}`;
}

const CONVERSATION_ROOM_PREFIX = conversationRoom("");

/** The conversation rooms a socket is in now (membership changes move sockets between rooms). */
function conversationRooms(socket: GatewaySocket): string[] {
  return [...socket.rooms].filter((room) => room.startsWith(CONVERSATION_ROOM_PREFIX));
}
