/**
 * A gateway feature (messages, presence, typing, receipts, calls…): a module that registers handlers of
 * client events (once, for every socket, through `onEvent`), may hook each socket's lifecycle, and may
 * run background work. `createGateway` builds every feature from one shared
 * context and drives their lifecycle, so features never import one another.
 */
import type { BlockCache } from "@parley/shared/blocks/block-cache";
import type { Health } from "@parley/shared/lifecycle";
import type { Logger } from "@parley/shared/logger";
import type { ConversationCache } from "@parley/shared/messages/conversation-cache";
import type { MessagePipeline } from "@parley/shared/messages/message-pipeline";
import type { Models } from "@parley/shared/models";
import type { AttachmentQueue, PersistQueue } from "@parley/shared/queues";
import type { RedisClient } from "@parley/shared/redis";
import type { RedisKeys } from "@parley/shared/redis-keys";

import type { GatewayConfig } from "../config.js";
import type { OnEvent } from "./on-event.js";
import type { GatewayServer, GatewaySocket } from "./types.js";

/** Everything a feature may use. */
export interface FeatureContext {
  io: GatewayServer;
  config: GatewayConfig;
  log: Logger;
  /** Name of this gateway process (`NODE_ID`). */
  node: string;
  redis: RedisClient;
  keys: RedisKeys;
  models: Models;
  queue: PersistQueue;
  /** Where deleted messages' attachments go to be deleted; absent when attachments are off. */
  attachmentQueue: AttachmentQueue | undefined;
  /** Membership checks without MongoDB reads. */
  cache: ConversationCache;
  /** Each user's block peers (users with a block in either direction), from Redis. */
  blocks: BlockCache;
  pipeline: MessagePipeline;
  health: Health;
  /** Registers the handler of a client event for every socket, with rate limiting, validation and answers. */
  onEvent: OnEvent;
}

export interface GatewayFeature {
  /** Shown in logs. */
  name: string;
  /**
   * Part of the handshake, after the token was verified (`socket.data` is set): a throw refuses the
   * connection, with the error's code as `connect_error`'s `err.data.code`.
   */
  handshake?(socket: GatewaySocket): Promise<void>;
  /**
   * A socket passed the handshake, and its events already reach the handlers: add its `disconnect`
   * listener or per-socket state. Runs before the session is set up.
   */
  onConnection?(socket: GatewaySocket): void;
  /**
   * The socket has joined its user room and the rooms of `conversationIds`, and is about to receive
   * `session:ready`. May be async; a failure is logged and does not end the session.
   */
  onSession?(socket: GatewaySocket, conversationIds: readonly string[]): void | Promise<void>;
  /** Starts background work (timers, sweepers). */
  start?(): void;
  /**
   * The gateway is draining: its sockets are about to be closed so that they reconnect to other
   * gateways. Called before the first one closes, then {@link stop} follows once they are all closed.
   */
  drain?(): void;
  /**
   * Stops background work. Called on shutdown before the sockets are disconnected, so a feature may
   * still clean up after its sockets (their `disconnect` handlers run during the close).
   */
  stop?(): Promise<void>;
}
