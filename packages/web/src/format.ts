/** How times and conversations are written on screen. */
import type { ConversationView } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { nameOf } from "./users.js";

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** A message's time: the hour today, the date before. */
export function shortTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? time.format(date) : day.format(date);
}

/** The hour and minute of `iso`. */
export function clockTime(iso: string): string {
  return time.format(new Date(iso));
}

/** The other member of a direct conversation (the user itself in a chat with itself). */
export function peerOf(conversation: Pick<ConversationView, "type" | "members">, self: string): string | undefined {
  if (conversation.type !== "direct") return undefined;
  return conversation.members.find((m) => m !== self) ?? self;
}

/** A conversation's title: the group's name, or the other member's. */
export function titleOf(conversation: ConversationView, self: string, users: Readonly<Record<string, PublicUser>>): string {
  const peer = peerOf(conversation, self);
  if (peer === undefined) return conversation.name ?? "Group";
  return nameOf(users[peer]);
}
