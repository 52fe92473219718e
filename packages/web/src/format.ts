/** How times and conversations are written on screen. */
import type { ConversationView } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { nameOf } from "./users.js";
import { isVoiceNote } from "./voice-note.js";

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** A message's time: the hour today, the date before. */
export function shortTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? time.format(date) : day.format(date);
}

/** How many local calendar days `date` is before `now`: 0 today, 1 yesterday, negative in the future. */
export function daysBefore(date: Date, now: Date): number {
  const start = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  // Rounded: a day with a daylight saving change is 23 or 25 hours long.
  return Math.round((start(now) - start(date)) / 86_400_000);
}

/**
 * The separator above the messages of `date`'s local day: "Today", "Yesterday", the weekday within the
 * last week, else the full date, in `locales` (the browser's by default).
 */
export function dayLabel(date: Date, now = new Date(), locales?: Intl.LocalesArgument): string {
  const days = daysBefore(date, now);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return new Intl.DateTimeFormat(locales, { weekday: "long" }).format(date);
  return new Intl.DateTimeFormat(locales, { dateStyle: "full" }).format(date);
}

/** An item of a timeline, or the separator of the local day that starts before it. */
export type Dated<T> = { kind: "day"; key: string; label: string; date: Date } | { kind: "item"; item: T };

/**
 * `items` (in time order) with a day separator before the first of each local day. `key` is the day
 * (`YYYY-MM-DD`, local), stable across renders.
 */
export function withDays<T>(items: readonly T[], timeOf: (item: T) => string | number, now = new Date(), locales?: Intl.LocalesArgument): Dated<T>[] {
  const out: Dated<T>[] = [];
  let previous: string | undefined;
  for (const item of items) {
    const date = new Date(timeOf(item));
    const key = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
    if (key !== previous) out.push({ kind: "day", key, label: dayLabel(date, now, locales), date });
    previous = key;
    out.push({ kind: "item", item });
  }
  return out;
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

/** What a message is, in a line (the conversation list, a reply's quote): its text, else what it carries. */
export function summaryOf(message: { content: string; deletedAt?: string | undefined; attachments?: readonly { kind: string; name: string }[] | undefined }): string {
  if (message.deletedAt) return "Message deleted";
  if (message.content) return message.content;
  const attachments = message.attachments ?? [];
  const [only] = attachments;
  if (attachments.length !== 1 || !only) return attachments.length > 1 ? `${attachments.length} attachments` : "";
  if (isVoiceNote(only)) return "Voice note";
  return { image: "Photo", video: "Video", audio: `Audio: ${only.name}` }[only.kind] ?? only.name;
}
