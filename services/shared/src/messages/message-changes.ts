/**
 * Edits, deletes and reactions: each is one atomic Redis step on the conversation's keys that loads the
 * message's latest state, checks the rules, applies the change, raises `rev` and writes the new state to
 * the conversation's overlay hash. The change is then delivered to the conversation room on every node
 * and queued for the worker, which stores the highest rev it sees.
 */
import { ForbiddenError, NotFoundError, UnavailableError, ValidationError } from "../errors.js";
import {
  MAX_REACTIONS_PER_MESSAGE,
  type Attachment,
  type DeleteMessage,
  type EditMessage,
  type Message,
  type MessageReaction,
  type ReactMessage,
  type ServerToClientEvents,
} from "@parley/protocol";
import type { Logger } from "../logger.js";
import { enqueueAttachmentPurge, enqueueMessage, type AttachmentQueue, type PersistQueue } from "../queues.js";
import { Script, type RedisClient } from "../redis.js";
import type { RedisKeys } from "../redis-keys.js";
import { refuseBlockedLua, requireMemberLua, type ConversationCache } from "./conversation-cache.js";
import { FIND_RECENT_LUA, wellFormed, type MessageReader } from "./message-reader.js";

/**
 * The body of one change, after the caller's membership is checked (or deliberately not, for
 * {@link eraseScript}). The message's state comes from the overlay, else the stream, else ARGV[8] (its
 * stored state, which the caller loads from MongoDB when the script answered LOAD).
 *
 * Rules (membership is checked before, see {@link changeScript}): edit and delete are the sender's only; a deleted message cannot
 * be edited or reacted to (deleting it again changes nothing); an edit to the same content changes
 * nothing; a reaction toggles the caller's one with that emoji, and a message holds at most ARGV[6]
 * distinct emoji. A delete removes the content, the reactions and the attachments (answering the ids
 * of those, whose objects the caller has deleted). A description (op 'describe', by the system, ARGV[4]
 * a JSON object of attachment id → fields) adds what the worker found out about the message's
 * attachments; it changes nothing on a message without those attachments. In a direct conversation where one
 * member blocks the other, only deletes are allowed (BLOCKED).
 *
 * KEYS: members, members version, overlay, stream, blocked flag.
 * ARGV: op ('edit' | 'delete' | 'react' | 'describe'), user id, message id, content, emoji or description (or ''), now (ISO),
 * most distinct emoji, overlay TTL (s), stored state JSON (or '').
 * Returns {'OK', json, added (0|1), removed attachment ids} | {'UNCHANGED', json} | {'NOT_SENDER'} | {'LOAD'} | {'DELETED'} |
 * {'TOO_MANY'}.
 */
const CHANGE_LUA = `
local json = find_recent(KEYS[4], KEYS[3], ARGV[3])
if not json then
  if ARGV[8] == '' then return {'LOAD'} end
  json = ARGV[8]
end
local m = cjson.decode(json)
local op, user, arg = ARGV[1], ARGV[2], ARGV[4]
if m.deletedAt then
  if op == 'delete' then return {'UNCHANGED', json} end
  return {'DELETED'}
end
if op ~= 'react' and m.senderId ~= user then return {'NOT_SENDER'} end
local added = 0
local removed = {}
if op == 'describe' then
  local found = false
  local described = cjson.decode(arg)
  for _, a in ipairs(m.attachments or {}) do
    local d = described[a.id]
    if d then
      for k, v in pairs(d) do a[k] = v end
      found = true
    end
  end
  if not found then return {'UNCHANGED', json} end
elseif op == 'edit' then
  if m.content == arg then return {'UNCHANGED', json} end
  m.content = arg
  m.editedAt = ARGV[5]
elseif op == 'delete' then
  m.content = ''
  m.deletedAt = ARGV[5]
  m.reactions = nil
  for _, a in ipairs(m.attachments or {}) do table.insert(removed, a.id) end
  m.attachments = nil
else
  local reactions = m.reactions or {}
  local users = reactions[arg]
  local kept = {}
  if users then
    for _, id in ipairs(users) do
      if id ~= user then table.insert(kept, id) end
    end
  end
  if users and #kept < #users then
    reactions[arg] = (#kept > 0) and kept or nil
  else
    if not users then
      local distinct = 0
      for _ in pairs(reactions) do distinct = distinct + 1 end
      if distinct >= tonumber(ARGV[6]) then return {'TOO_MANY'} end
    end
    table.insert(kept, user)
    reactions[arg] = kept
    added = 1
  end
  m.reactions = (next(reactions) ~= nil) and reactions or nil
end
m.rev = (m.rev or 0) + 1
local changed = cjson.encode(m)
redis.call('HSET', KEYS[3], ARGV[3], changed)
redis.call('EXPIRE', KEYS[3], ARGV[7])
return {'OK', changed, added, removed}
`;

/** What {@link CHANGE_LUA} answers. */
type ChangeReply =
  | [status: "OK", json: string, added: 0 | 1, removedAttachmentIds: string[]]
  | [status: "UNCHANGED", json: string]
  | [status: "NOT_SENDER" | "LOAD" | "DELETED" | "TOO_MANY"];

/**
 * One change by a member: {@link CHANGE_LUA} behind the membership check, which also answers
 * {'MISS'} (membership not cached) and {'FORBIDDEN'} (not a member), and the block check of a direct
 * conversation, which answers {'BLOCKED'} to anything but a delete.
 */
const changeScript = new Script<ChangeReply | [status: "MISS" | "FORBIDDEN" | "BLOCKED"]>(
  "change-message",
  `${FIND_RECENT_LUA}
${requireMemberLua({ members: "KEYS[1]", membersVersion: "KEYS[2]", user: "ARGV[2]" })}
${refuseBlockedLua({ blocked: "KEYS[5]", unless: "ARGV[1] == 'delete'" })}
${CHANGE_LUA}`,
);

/**
 * A change by the system, whether or not the sender is still a member: the erasure of a deleted
 * account's messages (op 'delete', after the account left every conversation), and the description of
 * a message's attachments (op 'describe'). Same keys, arguments and answers as {@link CHANGE_LUA}.
 */
const eraseScript = new Script<ChangeReply>(
  "erase-message",
  `${FIND_RECENT_LUA}
${CHANGE_LUA}`,
);

/** A change to deliver to the conversation's room. */
export type MessageChange =
  | { type: "updated"; message: Message }
  | { type: "deleted"; message: Message }
  | { type: "reaction"; message: Message; reaction: MessageReaction };

/**
 * Delivers a change to its conversation's room on every node; `exceptSocketId` is the socket that made
 * it, which gets the new state in its ack instead.
 */
export type PublishChange = (change: MessageChange, exceptSocketId: string | undefined) => void;

/** Where {@link emitChange} sends: a room of a Socket.IO server, or of the Redis emitter. */
export interface ChangeTarget {
  emit(event: "message:updated", ...args: Parameters<ServerToClientEvents["message:updated"]>): unknown;
  emit(event: "message:deleted", ...args: Parameters<ServerToClientEvents["message:deleted"]>): unknown;
  emit(event: "message:reaction", ...args: Parameters<ServerToClientEvents["message:reaction"]>): unknown;
}

/**
 * Sends a change to `target` as its event: `message:updated` with the new state, `message:deleted`
 * with the message's id and conversation only, `message:reaction` with the reaction.
 */
export function emitChange(target: ChangeTarget, change: MessageChange): void {
  const { message } = change;
  switch (change.type) {
    case "updated":
      target.emit("message:updated", message);
      break;
    case "deleted":
      target.emit("message:deleted", { id: message.id, conversationId: message.conversationId });
      break;
    case "reaction":
      target.emit("message:reaction", change.reaction);
      break;
  }
}

export interface MessageChangesDeps {
  redis: RedisClient;
  keys: RedisKeys;
  cache: ConversationCache;
  /** Finds stored messages that Redis no longer holds. */
  reader: MessageReader;
  queue: PersistQueue;
  /** Where the attachments of deleted messages go to be deleted. Absent: they stay in the store. */
  attachmentQueue?: AttachmentQueue | undefined;
  publish: PublishChange;
  log: Logger;
  /**
   * How long the overlay of a conversation is kept after its last change, in seconds: the stream's TTL.
   * @default 604800
   */
  overlayTtlSeconds?: number;
}

/** The outcome of a change. */
export interface ChangeResult {
  /** The message's state after the call. */
  message: Message;
  /** False when nothing changed (same content, deleted again): nothing was delivered. */
  changed: boolean;
}

type Operation = "edit" | "delete" | "react" | "erase" | "describe";

/** What the worker found out about attachments, by attachment id. */
export type AttachmentDescriptions = Record<string, Partial<Pick<Attachment, "width" | "height" | "durationMs" | "thumbnail">>>;

const ATTEMPTS = 3;

export class MessageChanges {
  constructor(private readonly deps: MessageChangesDeps) {}

  /**
   * Replaces the content of one of `userId`'s messages; the room gets `message:updated`.
   * @throws {NotFoundError} no such message (in that conversation), or it was deleted.
   * @throws {ForbiddenError} not a member, not the sender, or a blocked direct conversation.
   */
  async edit(userId: string, input: EditMessage, origin?: { socketId: string }): Promise<ChangeResult> {
    const { message, changed } = await this.apply("edit", userId, input, wellFormed(input.content));
    if (changed) this.publish({ type: "updated", message }, origin);
    await enqueueMessage(this.deps.queue, message);
    return { message, changed };
  }

  /**
   * Soft-deletes one of `userId`'s messages (content and reactions removed); the room gets
   * `message:deleted`. Deleting a deleted message changes nothing and succeeds.
   * @throws {NotFoundError} no such message (in that conversation).
   * @throws {ForbiddenError} not a member, or not the sender.
   */
  async delete(userId: string, input: DeleteMessage, origin?: { socketId: string }): Promise<ChangeResult> {
    const { message, changed, removed } = await this.apply("delete", userId, input, "");
    if (changed) this.publish({ type: "deleted", message }, origin);
    await this.store(message, removed);
    return { message, changed };
  }

  /**
   * Deletes one of `senderId`'s messages as {@link delete} does (the room gets `message:deleted`,
   * the deleted state is queued for the worker), whether or not the sender is still a member: for the
   * erasure of a deleted account's messages. Erasing a deleted message changes nothing and succeeds.
   * @throws {NotFoundError} no such message (in that conversation).
   * @throws {ForbiddenError} `senderId` did not send it.
   */
  async erase(senderId: string, input: DeleteMessage): Promise<ChangeResult> {
    const { message, changed, removed } = await this.apply("erase", senderId, input, "");
    if (changed) this.publish({ type: "deleted", message }, undefined);
    await this.store(message, removed);
    return { message, changed };
  }

  /**
   * Adds what the worker found out about a message's attachments (dimensions, durations, thumbnails);
   * the room gets `message:updated`. A system change: no membership check.
   * @throws {NotFoundError} no such message, or it was deleted.
   */
  async describe(senderId: string, input: { messageId: string; conversationId: string }, described: AttachmentDescriptions): Promise<ChangeResult> {
    const { message, changed } = await this.apply("describe", senderId, input, JSON.stringify(described));
    if (changed) {
      this.publish({ type: "updated", message }, undefined);
      await enqueueMessage(this.deps.queue, message);
    }
    return { message, changed };
  }

  /** Queues a deleted state for the worker, and the deletion of the attachments it lost. */
  private async store(message: Message, removedAttachmentIds: readonly string[]): Promise<void> {
    await enqueueMessage(this.deps.queue, message);
    if (removedAttachmentIds.length > 0 && this.deps.attachmentQueue) {
      await enqueueAttachmentPurge(this.deps.attachmentQueue, message, removedAttachmentIds);
    }
  }

  /**
   * Toggles `userId`'s reaction `emoji`; the room gets `message:reaction`.
   * @throws {NotFoundError} no such message (in that conversation), or it was deleted.
   * @throws {ForbiddenError} not a member, or a blocked direct conversation.
   * @throws {ValidationError} the message already has {@link MAX_REACTIONS_PER_MESSAGE} other emoji.
   */
  async react(
    userId: string,
    input: ReactMessage,
    origin?: { socketId: string },
  ): Promise<ChangeResult & { added: boolean }> {
    const { message, added } = await this.apply("react", userId, input, input.emoji);
    const reaction: MessageReaction = {
      messageId: message.id,
      conversationId: message.conversationId,
      userId,
      emoji: input.emoji,
      added,
    };
    this.publish({ type: "reaction", message, reaction }, origin);
    await enqueueMessage(this.deps.queue, message);
    return { message, changed: true, added };
  }

  private async apply(
    op: Operation,
    userId: string,
    { messageId, conversationId: given }: { messageId: string; conversationId?: string | undefined },
    arg: string,
  ): Promise<{ message: Message; changed: boolean; added: boolean; removed: string[] }> {
    const { keys, redis, reader } = this.deps;
    let conversationId = given;
    let stored: Message | null = null;
    if (conversationId === undefined) {
      // Without the conversation, only MongoDB can say where the message is.
      stored = await reader.storedMessage(undefined, messageId);
      if (!stored) throw new NotFoundError("Message not found");
      conversationId = stored.conversationId;
    }
    const scriptKeys = [
      keys.conversationMembers(conversationId),
      keys.conversationMembersVersion(conversationId),
      keys.conversationOverlay(conversationId),
      keys.conversationStream(conversationId),
      keys.conversationBlocked(conversationId),
    ];
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const args = [
        op === "erase" ? "delete" : op,
        userId,
        messageId,
        arg,
        new Date().toISOString(),
        MAX_REACTIONS_PER_MESSAGE,
        this.deps.overlayTtlSeconds ?? 604_800,
        stored ? JSON.stringify(stored) : "",
      ];
      const reply =
        op === "erase" || op === "describe"
          ? await eraseScript.run(redis, scriptKeys, args)
          : await this.deps.cache.runWithState(conversationId, () => changeScript.run(redis, scriptKeys, args));
      switch (reply[0]) {
        case "OK":
          return { message: JSON.parse(reply[1]) as Message, changed: true, added: reply[2] === 1, removed: reply[3] };
        case "UNCHANGED":
          return { message: JSON.parse(reply[1]) as Message, changed: false, added: false, removed: [] };
        case "LOAD":
          stored = await reader.storedMessage(conversationId, messageId);
          if (!stored) throw new NotFoundError("Message not found");
          continue;
        case "NOT_SENDER":
          throw new ForbiddenError(`Only the sender can ${op} a message`);
        case "DELETED":
          throw new NotFoundError("Message was deleted");
        case "TOO_MANY":
          throw new ValidationError(`emoji: a message holds at most ${MAX_REACTIONS_PER_MESSAGE} different reactions`, [
            { path: "emoji", message: `a message holds at most ${MAX_REACTIONS_PER_MESSAGE} different reactions` },
          ]);
      }
    }
    // The membership was loaded and gone again: Redis is evicting or was flushed.
    throw new UnavailableError("Conversation state is unavailable, retry shortly");
  }

  private publish(change: MessageChange, origin: { socketId: string } | undefined): void {
    try {
      this.deps.publish(change, origin?.socketId);
    } catch (err) {
      // Members recover the change with `sync` or history; the change itself is done.
      this.deps.log.error({ err, messageId: change.message.id }, "message change delivery failed");
    }
  }
}
