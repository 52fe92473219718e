/**
 * What live sockets learn when a conversation's membership changes, sent through the Redis emitter so
 * that every gateway applies it: sockets join or leave the conversation room, and members get
 * `conversation:created` / `conversation:updated` on their user rooms. No reconnect needed.
 */
import { conversationRoom, userRoom } from "@parley/shared/events";
import type { ParleyEmitter } from "@parley/shared/emitter";
import type { Logger } from "@parley/shared/logger";
import type { Conversation } from "@parley/protocol";


/**
 * Fire-and-forget notifications of membership changes. Called after the database write has succeeded,
 * so they never throw: a failure is logged, and the client catches up on its next reconnect.
 */
export class ConversationEvents {
  constructor(
    private readonly emitter: ParleyEmitter,
    private readonly log: Logger,
  ) {}

  /**
   * `joined` became members of `conversation` (every member, when it was just created): their sockets
   * join its room and get `conversation:created`; the members who were already there get
   * `conversation:updated`.
   */
  membersJoined(conversation: Conversation, joined: readonly string[]): void {
    this.fire("membersJoined", conversation.id, () => {
      const room = conversationRoom(conversation.id);
      const joinedRooms = joined.map(userRoom);
      // An emitter with no target room broadcasts to everyone: never call it with an empty list.
      if (joinedRooms.length > 0) {
        this.emitter.in(joinedRooms).socketsJoin(room);
        this.emitter.to(joinedRooms).emit("conversation:created", { conversation });
      }
      const newcomers = new Set(joined);
      const stayed = conversation.members.filter((m) => !newcomers.has(m)).map(userRoom);
      if (stayed.length > 0) this.emitter.to(stayed).emit("conversation:updated", { conversation });
    });
  }

  /**
   * `removedId` is no longer a member of `conversation` (which no longer lists them): their sockets
   * leave its room, and they and the remaining members get `conversation:updated`.
   */
  memberLeft(conversation: Conversation, removedId: string): void {
    this.fire("memberLeft", conversation.id, () => {
      const removedRoom = userRoom(removedId);
      this.emitter.in(removedRoom).socketsLeave(conversationRoom(conversation.id));
      const rooms = [removedRoom, ...conversation.members.filter((m) => m !== removedId).map(userRoom)];
      this.emitter.to(rooms).emit("conversation:updated", { conversation });
    });
  }

  private fire(what: string, conversationId: string, send: () => void): void {
    try {
      send();
    } catch (err) {
      this.log.error({ err, conversationId, what }, "conversation event failed");
    }
  }
}
