/** The open conversation: its messages in order, who is typing, and the message box. */
import { useEffect, useId, useLayoutEffect, useRef, useState } from "react";

import type { Attachments, Conversation, ParleyClient, TimelineMessage } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { peerOf, summaryOf, titleOf, withDays } from "../format.js";
import { useHandle, usePresence, useStore, useVisible } from "../hooks.js";
import { firstUnread, readMarkers } from "../read-state.js";
import { nameOf, useUsers } from "../users.js";
import { CallButtons } from "./call-buttons.js";
import { Composer, sendFiles, type ReplyTarget } from "./composer.js";
import { GroupMembersDialog } from "./group-members-dialog.js";
import { BackIcon } from "./icons.js";
import { MessageItem, type Quote, type Row } from "./message-item.js";

export interface MessageViewProps {
  client: ParleyClient;
  self: PublicUser;
  conversationId: string;
  onBack: () => void;
  /** The conversation is no longer this user's (they left the group, or were removed): what to tell them. */
  onGone: (notice: string) => void;
}

export function MessageView({ client, self, conversationId, onBack, onGone }: MessageViewProps) {
  const [members, setMembers] = useState(false);
  const conversation = useHandle(() => client.conversation(conversationId), conversationId);
  const view = useStore(client.conversations).find((v) => v.id === conversationId);
  const users = useUsers(client, view?.members ?? []);
  const peer = view && peerOf(view, self.id);
  const presence = usePresence(client, peer !== undefined && peer !== self.id ? [peer] : []);
  const headingId = useId();
  const status = peer === undefined ? undefined : presence[peer]?.status;
  const title = view ? titleOf(view, self.id, users) : undefined;

  // Listed once, then gone from the list while open: removed from the group (or left it elsewhere).
  const listedAs = useRef<string>(undefined);
  useEffect(() => {
    if (title !== undefined) listedAs.current = title;
    else if (listedAs.current !== undefined) onGone(`You are no longer in ${listedAs.current}`);
    // `onGone` is a new function every render; only the conversation leaving the list matters.
  }, [title]);

  return (
    <section className="conversation" aria-labelledby={headingId}>
      <header className="conversation-header">
        <button type="button" className="back" aria-label="Back to conversations" onClick={onBack}>
          <BackIcon />
        </button>
        <h2 id={headingId}>{title ?? "Conversation"}</h2>
        {status === "online" && <span className="status-text">online</span>}
        {peer !== undefined && peer !== self.id && <CallButtons client={client} peerId={peer} />}
        {view?.type === "group" && (
          <button type="button" className="members-button" aria-haspopup="dialog" onClick={() => setMembers(true)}>
            {view.members.length} members
          </button>
        )}
      </header>
      {view?.type === "group" && (
        <GroupMembersDialog
          client={client}
          self={self}
          view={view}
          open={members} onClose={() => setMembers(false)}
          onLeft={() => onGone(`You left ${title ?? "the group"}`)}
        />
      )}
      {conversation ? (
        <Timeline
          conversation={conversation}
          attachments={client.attachments}
          self={self}
          group={view?.type === "group"}
          members={view?.members ?? []}
          readPointer={view ? (view.readPointers[self.id] ?? 0) : undefined}
          users={users}
        />
      ) : (
        <p className="placeholder">Loading…</p>
      )}
    </section>
  );
}

interface TimelineProps {
  conversation: Conversation;
  attachments: Attachments;
  self: PublicUser;
  group: boolean;
  /** The members now: whose read markers show. */
  members: readonly string[];
  /** This user's read pointer, from the list; undefined until the list has the conversation. */
  readPointer: number | undefined;
  users: Readonly<Record<string, PublicUser>>;
}

/** How close to the end (px) still counts as reading the newest messages. */
const STICK_TO_END_PX = 48;
/** How far above the top of the view (px) older history starts loading. */
const LOAD_OLDER_MARGIN_PX = 600;
/** Most pages loaded on opening to reach the first unread message (a page is 50 messages). */
const MAX_OPENING_PAGES = 20;
/** Room left above the "New messages" divider when the conversation opens on it (px). */
const DIVIDER_MARGIN_PX = 8;

/** The read pointer when the conversation opened, and whether anything from others was unread then. */
interface Opening {
  pointer: number;
  unread: boolean;
}

function Timeline({ conversation, attachments, self, group, members, readPointer, users }: TimelineProps) {
  const { items, pending, loaded, hasOlder } = useStore(conversation.messages);
  const { read } = useStore(conversation.receipts);
  const typing = useStore(conversation.typing);
  const visible = useVisible();
  const log = useRef<HTMLDivElement>(null);
  const olderButton = useRef<HTMLButtonElement>(null);
  const atEnd = useRef(true);
  const sentCount = useRef(pending.length);
  const readObserver = useRef<IntersectionObserver>(null);
  const loadingOlder = useRef(false);
  /** The oldest message held and its distance from the view's top before older ones came in. */
  const anchor = useRef<{ seq: number; top: number }>(null);
  // Taken once: "New messages" stays where it is while the conversation is open.
  const [opening, setOpening] = useState<Opening | null>(null);
  const [backlogLoaded, setBacklogLoaded] = useState(false);
  /** Scrolled to where the reader starts: reading (and loading older history) may begin. */
  const [positioned, setPositioned] = useState(false);
  if (opening === null && loaded && readPointer !== undefined) {
    setOpening({ pointer: readPointer, unread: firstUnread(items, self.id, readPointer) !== undefined });
  }

  const rows: Row[] = [
    ...items.map((message): Row => ({ kind: "confirmed", message })),
    ...pending.map((message): Row => ({ kind: "local", message })),
  ];
  const [replyTo, setReplyTo] = useState<ReplyTarget | null>(null);
  const byId = new Map(items.map((m) => [m.id, m]));
  const name = (id: string) => (id === self.id ? "You" : nameOf(users[id]));
  // Drawn once the backlog is held: before, the first unread may not be loaded yet, and the divider
  // would show above a later message.
  const divider = opening?.unread && backlogLoaded ? firstUnread(items, self.id, opening.pointer) : undefined;
  const markers = readMarkers(items, self.id, members, read);

  function quoteOf(message: TimelineMessage): Quote;
  function quoteOf(message: TimelineMessage | undefined): Quote | null;
  function quoteOf(message: TimelineMessage | undefined): Quote | null {
    if (!message) return null;
    return { sender: name(message.senderId), text: summaryOf(message) };
  }

  /** More history is needed to show where the unread messages start. */
  function backlogMissing(): boolean {
    const { items: held, hasOlder: more } = conversation.messages.get();
    const first = held[0];
    return opening !== null && opening.unread && more && first !== undefined && first.seq > opening.pointer + 1;
  }

  // On opening with unread messages further back than the first page: load pages until they are held.
  useEffect(() => {
    if (!opening) return;
    let cancelled = false;
    void (async () => {
      for (let page = 0; page < MAX_OPENING_PAGES && backlogMissing(); page++) {
        const ok = await conversation.loadOlder().then(
          () => true,
          () => false,
        );
        if (cancelled) return;
        if (!ok) break;
      }
      if (!cancelled) setBacklogLoaded(true);
    })();
    return () => {
      cancelled = true;
    };
    // Runs once the opening pointer is known; `backlogMissing` reads the store itself.
  }, [opening, conversation]);

  // Then open on the "New messages" divider if anything was unread, else at the end.
  useLayoutEffect(() => {
    const el = log.current;
    if (positioned || !backlogLoaded || !el) return;
    const mark = el.querySelector(".unread-divider");
    if (mark) el.scrollTop += mark.getBoundingClientRect().top - el.getBoundingClientRect().top - DIVIDER_MARGIN_PX;
    else el.scrollTop = el.scrollHeight;
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_TO_END_PX;
    setPositioned(true);
  }, [positioned, backlogLoaded]);

  // Read is what was on screen while the page was visible: the highest seq shown, as messages come into view.
  useEffect(() => {
    const root = log.current;
    if (!positioned || !visible || !root) return;
    const onScreen = new Map<Element, number>();
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (seen(entry)) onScreen.set(entry.target, Number((entry.target as HTMLElement).dataset.seq));
          else onScreen.delete(entry.target);
        }
        const highest = Math.max(0, ...onScreen.values());
        if (highest > 0) conversation.markRead(highest);
      },
      { root, threshold: [0, 0.25, 0.5, 0.75, 1] },
    );
    readObserver.current = observer;
    for (const item of root.querySelectorAll("li[data-seq]")) observer.observe(item);
    return () => {
      observer.disconnect();
      readObserver.current = null;
    };
  }, [conversation, positioned, visible]);

  // Messages that arrived (or loaded) since are watched too; observing one twice is a no-op.
  useEffect(() => {
    const observer = readObserver.current;
    if (observer && log.current) for (const item of log.current.querySelectorAll("li[data-seq]")) observer.observe(item);
  }, [items]);

  // Near the top, older history loads by itself: the "Load earlier messages" button is the sentinel.
  useEffect(() => {
    const root = log.current;
    const button = olderButton.current;
    if (!positioned || !hasOlder || !root || !button) return;
    let active = true;
    const observer = new IntersectionObserver(
      (entries) => {
        if (!entries.some((e) => e.isIntersecting)) return;
        void loadOlder().then((loadedOne) => {
          if (!loadedOne) return;
          // Observed anew, it reports at once whether it is still near the top (a short page): then the next.
          requestAnimationFrame(() => {
            if (!active) return;
            observer.unobserve(button);
            observer.observe(button);
          });
        });
      },
      { root, rootMargin: `${LOAD_OLDER_MARGIN_PX}px 0px 0px 0px` },
    );
    observer.observe(button);
    return () => {
      active = false;
      observer.disconnect();
    };
  }, [conversation, positioned, hasOlder]);

  // Older messages came in above: the ones on screen stay where they were.
  const oldest = items[0]?.seq;
  useLayoutEffect(() => {
    const el = log.current;
    const held = anchor.current;
    if (!el || !held) return;
    anchor.current = null;
    const item = el.querySelector(`li[data-seq="${held.seq}"]`);
    if (item) el.scrollTop += item.getBoundingClientRect().top - el.getBoundingClientRect().top - held.top;
  }, [oldest]);

  // Follow new messages when the reader is at the end, and always after sending one.
  useLayoutEffect(() => {
    if (pending.length > sentCount.current) atEnd.current = true;
    sentCount.current = pending.length;
    const el = log.current;
    if (el && positioned && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [rows.length, pending.length, typing.length]);

  /** The page before the oldest held, keeping the view where it is; one at a time (false: one was loading). */
  async function loadOlder(): Promise<boolean> {
    const el = log.current;
    if (loadingOlder.current || !el) return false;
    loadingOlder.current = true;
    const first = conversation.messages.get().items[0];
    const item = first && el.querySelector(`li[data-seq="${first.seq}"]`);
    if (first && item) anchor.current = { seq: first.seq, top: item.getBoundingClientRect().top - el.getBoundingClientRect().top };
    await conversation.loadOlder().catch(() => false);
    loadingOlder.current = false;
    return true;
  }

  let previousSender: string | undefined;
  return (
    <>
      <div
        className="log"
        role="log"
        aria-label="Messages"
        ref={log}
        onDragOver={(e) => {
          if (e.dataTransfer.types.includes("Files")) e.preventDefault();
        }}
        onDrop={(e) => {
          if (e.dataTransfer.files.length === 0) return;
          e.preventDefault();
          sendFiles(conversation, e.dataTransfer.files);
        }}
        onScroll={(e) => {
          const el = e.currentTarget;
          atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_TO_END_PX;
        }}
      >
        {hasOlder && (
          <button type="button" className="older" ref={olderButton} onClick={() => void loadOlder()}>
            Load earlier messages
          </button>
        )}
        {!loaded && <p className="placeholder">Loading messages…</p>}
        {loaded && rows.length === 0 && <p className="placeholder">No messages yet. Say hello!</p>}
        <ol className="messages">
          {withDays(rows, timeOf).flatMap((entry) => {
            if (entry.kind === "day") {
              previousSender = undefined;
              return (
                <li key={`day:${entry.key}`} className="day">
                  <h3>
                    <time dateTime={entry.key}>{entry.label}</time>
                  </h3>
                </li>
              );
            }
            const row = entry.item;
            const sender = row.message.senderId ?? self.id;
            const first = previousSender !== sender;
            previousSender = sender;
            const replyToId = row.message.replyToId;
            const readBy = row.kind === "confirmed" ? markers.get(row.message.seq) : undefined;
            const item = (
              <MessageItem
                key={`${sender}:${row.message.clientMsgId}`}
                row={row}
                conversation={conversation}
                attachments={attachments}
                selfId={self.id}
                mine={sender === self.id}
                sender={group && sender !== self.id && first ? nameOf(users[sender]) : undefined}
                quote={replyToId === undefined ? undefined : quoteOf(byId.get(replyToId))}
                readBy={readBy?.map((id) => nameOf(users[id]))}
                nameOf={name}
                onReply={(message) => setReplyTo({ id: message.id, ...quoteOf(message) })}
              />
            );
            if (row.message !== divider) return item;
            return [
              <li key="unread" className="unread-divider">
                <h3>New messages</h3>
              </li>,
              item,
            ];
          })}
        </ol>
      </div>
      <p className="typing" aria-live="polite" data-testid="typing">
        {typingText(typing.map((id) => nameOf(users[id])))}
      </p>
      <Composer conversation={conversation} replyTo={replyTo} onCancelReply={() => setReplyTo(null)} />
    </>
  );
}

/** When a row was written: a confirmed message's time, a pending one's queueing. */
function timeOf(row: Row): string | number {
  return row.kind === "confirmed" ? row.message.createdAt : row.message.queuedAt;
}

/** A message counts as seen when half of it is on screen, or it fills half the screen (a tall one). */
function seen(entry: IntersectionObserverEntry): boolean {
  if (!entry.isIntersecting) return false;
  return entry.intersectionRatio >= 0.5 || (entry.rootBounds !== null && entry.intersectionRect.height >= entry.rootBounds.height / 2);
}

/** "ada is typing…", "ada and bob are typing…", "3 people are typing…". */
function typingText(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
