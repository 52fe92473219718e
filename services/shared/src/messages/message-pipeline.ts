/**
 * The path of every new message, shared by the gateway (socket sends) and the API (REST sends):
 *
 * 1. one atomic Redis step checks membership, deduplicates the clientMsgId, allocates the next seq and
 *    appends the message to the conversation's stream;
 * 2. the message is delivered to the conversation room on every node, before any database write;
 * 3. it is queued for the worker, which persists it and confirms with `message:persisted`.
 *
 * The caller acknowledges only after step 3, so an acknowledged message is always either in the queue
 * or already stored.
 */
import { Types } from "mongoose";

import type { Attachments, ClaimedAttachments } from "../attachments/attachments.js";
import { ForbiddenError, ValidationError } from "../errors.js";
import type { Logger } from "../logger.js";
import { enqueueAttachmentProcessing, enqueueMessage, type AttachmentQueue, type PersistQueue } from "../queues.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";
import type { Attachment, Message, SendMessage } from "@parley/protocol";
import { refuseBlockedLua, requireMemberLua, type ConversationCache } from "./conversation-cache.js";
import { FIND_RECENT_LUA, MessageReader, wellFormed } from "./message-reader.js";

/**
 * The atomic send. The message JSON is ARGV[2] .. seq .. ARGV[3], so the script never parses JSON.
 * The stream entry id is `<seq>-0`, which makes "everything after seq N" a plain XRANGE.
 *
 * Sending marks the conversation read and delivered for the sender, up to the new message, so that
 * unread counts never include one's own messages.
 *
 * A reply must name a message of the conversation: the script looks for it in Redis (overlay, then the
 * stream); when Redis does not hold it, it answers REPLY_UNKNOWN and the caller asks MongoDB, then runs
 * the script again saying the target was found there.
 *
 * A direct conversation in which one member blocks the other takes no new message (BLOCKED); a retry of
 * a message sent before the block still gets its original (DUPLICATE).
 *
 * KEYS: members, members version, seq, clientMsgId, stream, read pointers, delivery pointers, overlay,
 * blocked flag.
 * The version key, not the member set, says whether the membership is cached: an emptied group has no
 * set at all.
 * ARGV: sender id, JSON head, JSON tail, clientMsgId TTL (s), stream max length, stream TTL (s),
 * replyToId ('' for none), '1' when the reply target was found in MongoDB.
 * Returns {'OK', json} | {'DUPLICATE', json} | {'FORBIDDEN'} | {'BLOCKED'} | {'MISS'} (membership or seq
 * not cached) | {'REPLY_UNKNOWN'}.
 */
const sendScript = new Script<
  [status: "OK" | "DUPLICATE", json: string] | [status: "FORBIDDEN" | "BLOCKED" | "MISS"] | [status: "REPLY_UNKNOWN"]
>(
  "send-message",
  `${FIND_RECENT_LUA}
${requireMemberLua({ members: "KEYS[1]", membersVersion: "KEYS[2]", seq: "KEYS[3]", user: "ARGV[1]" })}
local previous = redis.call('GET', KEYS[4])
if previous then
  return {'DUPLICATE', previous}
end
${refuseBlockedLua({ blocked: "KEYS[9]" })}
if ARGV[7] ~= '' and ARGV[8] ~= '1' and not find_recent(KEYS[5], KEYS[8], ARGV[7]) then
  return {'REPLY_UNKNOWN'}
end
local seq = redis.call('INCR', KEYS[3])
local message = ARGV[2] .. seq .. ARGV[3]
redis.call('SET', KEYS[4], message, 'EX', ARGV[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'm', message)
redis.call('EXPIRE', KEYS[5], ARGV[6])
redis.call('HSET', KEYS[6], ARGV[1], seq)
redis.call('HSET', KEYS[7], ARGV[1], seq)
return {'OK', message}
`,
);

/** Tuning of the pipeline. */
export interface MessagePipelineOptions {
  /**
   * How long a clientMsgId is remembered for deduplication, in seconds.
   * @default 86400
   */
  clientMsgIdTtlSeconds: number;
  /**
   * Approximate number of recent messages kept in each conversation's Redis stream.
   * @default 1000
   */
  streamMaxLength: number;
  /**
   * Idle time after which a conversation's stream expires, in seconds; older messages come from MongoDB.
   * @default 604800
   */
  streamTtlSeconds: number;
}

export const DEFAULT_PIPELINE_OPTIONS: MessagePipelineOptions = {
  clientMsgIdTtlSeconds: 86_400,
  streamMaxLength: 1000,
  streamTtlSeconds: 604_800,
};

/**
 * Delivers a new message to its conversation's room on every node. `exceptSocketId` is the sending
 * socket, which gets the message in its ack instead.
 */
export type DeliverMessage = (message: Message, exceptSocketId: string | undefined) => void;

export interface MessagePipelineDeps {
  redis: RedisClient;
  keys: RedisKeys;
  cache: ConversationCache;
  queue: PersistQueue;
  deliver: DeliverMessage;
  log: Logger;
  /** Attachments of sends, and the queue that has them described. Absent: sends with attachments are refused. */
  attachments?: { service: Attachments; queue: AttachmentQueue } | undefined;
  options?: Partial<MessagePipelineOptions>;
}

/** The outcome of {@link MessagePipeline.send}. */
export interface SendResult {
  message: Message;
  /** True when the clientMsgId had been sent before: `message` is the original, nothing was delivered. */
  duplicate: boolean;
}

export class MessagePipeline {
  /**
   * Reads messages in their latest state from Redis and MongoDB (`sync`, history, reply checks), on
   * the pipeline's Redis and the cache's models.
   */
  readonly reader: MessageReader;
  private readonly options: MessagePipelineOptions;

  constructor(private readonly deps: MessagePipelineDeps) {
    this.options = { ...DEFAULT_PIPELINE_OPTIONS, ...deps.options };
    this.reader = new MessageReader({ redis: deps.redis, keys: deps.keys, cache: deps.cache, models: deps.cache.models });
  }

  /**
   * Sends a validated message from `senderId`.
   *
   * @param origin the sending socket, if any, which is left out of the delivery.
   * @throws {ForbiddenError} when the sender is not a member, or the conversation is direct and one of
   * its members blocks the other.
   * @throws {NotFoundError} when the conversation does not exist.
   * @throws {ValidationError} when `replyToId` names no message of the conversation, or an attachment
   * cannot be attached (not the sender's, another conversation's, not uploaded, of a refused type, on
   * another message). Nothing is sent then, and no attachment stays claimed.
   */
  async send(senderId: string, input: SendMessage, origin?: { socketId: string }): Promise<SendResult> {
    const claimed = input.attachmentIds?.length ? await this.claimAttachments(senderId, input) : undefined;
    let reply;
    try {
      reply = await this.runSend(senderId, input, claimed?.attachments);
    } catch (err) {
      await this.release(claimed);
      throw err;
    }
    const message = JSON.parse(reply[1]) as Message;
    const duplicate = reply[0] === "DUPLICATE";
    // A retry of a send that did not list these attachments at first does not add them.
    if (duplicate) await this.release(claimed);
    if (!duplicate) this.deliver(message, origin?.socketId);
    // Queued again on a duplicate too: if the first attempt died between the script and the queue,
    // the client's retry is what gets the message stored. The job id makes this a no-op otherwise.
    await enqueueMessage(this.deps.queue, message);
    if (message.attachments?.length && this.deps.attachments) await enqueueAttachmentProcessing(this.deps.attachments.queue, message);
    return { message, duplicate };
  }

  private async claimAttachments(senderId: string, input: SendMessage): Promise<ClaimedAttachments> {
    if (!this.deps.attachments?.service.enabled) throw new ForbiddenError("Attachments are not enabled on this server");
    return this.deps.attachments.service.claim(senderId, input.conversationId, input.clientMsgId, input.attachmentIds ?? []);
  }

  private async release(claimed: ClaimedAttachments | undefined): Promise<void> {
    // Left claimed, an attachment stays out of reach of other sends and of the orphan sweep: logged.
    await claimed?.release().catch((err: unknown) => this.deps.log.error({ err }, "attachment claims not released"));
  }

  /** The send script, once or twice (see {@link sendScript} on replies): 'OK' or 'DUPLICATE' with the message. */
  private async runSend(
    senderId: string,
    input: SendMessage,
    attachments: Attachment[] | undefined,
  ): Promise<[status: "OK" | "DUPLICATE", json: string]> {
    const { conversationId } = input;
    const { keys, redis } = this.deps;
    const scriptKeys = [
      keys.conversationMembers(conversationId),
      keys.conversationMembersVersion(conversationId),
      keys.conversationSeq(conversationId),
      keys.clientMsgId(conversationId, senderId, input.clientMsgId),
      keys.conversationStream(conversationId),
      keys.conversationRead(conversationId),
      keys.conversationDelivered(conversationId),
      keys.conversationOverlay(conversationId),
      keys.conversationBlocked(conversationId),
    ];
    const [head, tail] = messageJsonAround(senderId, input, attachments);
    const args = [
      senderId,
      head,
      tail,
      this.options.clientMsgIdTtlSeconds,
      this.options.streamMaxLength,
      this.options.streamTtlSeconds,
      input.replyToId ?? "",
      "0",
    ];

    const { cache } = this.deps;
    let reply = await cache.runWithState(conversationId, () => sendScript.run(redis, scriptKeys, args));
    if (reply[0] === "REPLY_UNKNOWN") {
      if (!(await this.reader.storedMessage(conversationId, input.replyToId!))) {
        throw new ValidationError("replyToId: must name a message of this conversation", [
          { path: "replyToId", message: "must name a message of this conversation" },
        ]);
      }
      args[7] = "1";
      reply = await cache.runWithState(conversationId, () => sendScript.run(redis, scriptKeys, args));
    }
    if (reply[0] === "REPLY_UNKNOWN") throw new Error("unreachable: the reply target was confirmed");
    return reply;
  }

  private deliver(message: Message, exceptSocketId: string | undefined): void {
    try {
      this.deps.deliver(message, exceptSocketId);
    } catch (err) {
      // Receivers recover a missed message with `sync`; the send itself succeeded.
      this.deps.log.error({ err, messageId: message.id }, "message delivery failed");
    }
  }
}

/**
 * The message as JSON, split where its seq goes: the script joins head .. seq .. tail. Putting seq first
 * makes the split exact without searching the serialised text.
 */
function messageJsonAround(senderId: string, input: SendMessage, attachments: Attachment[] | undefined): [head: string, tail: string] {
  const body: Omit<Message, "seq"> = {
    id: new Types.ObjectId().toHexString(),
    conversationId: input.conversationId,
    senderId,
    clientMsgId: input.clientMsgId,
    content: wellFormed(input.content),
    type: input.type,
    createdAt: new Date().toISOString(),
  };
  if (input.replyToId) body.replyToId = input.replyToId;
  if (attachments?.length) body.attachments = attachments;
  return ['{"seq":', `,${JSON.stringify(body).slice(1)}`];
}
