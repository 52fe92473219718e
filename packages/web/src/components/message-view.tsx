/** The open conversation: its messages in order, who is typing, and the message box. */
import { useEffect, useId, useLayoutEffect, useRef, useState } from "react";

import type { Attachments, Conversation, ParleyClient, TimelineMessage } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { peerOf, titleOf } from "../format.js";
import { useHandle, usePresence, useStore, useVisible } from "../hooks.js";
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
  /** This user left the group. */
  onLeft: () => void;
}

export function MessageView({ client, self, conversationId, onBack, onLeft }: MessageViewProps) {
  const [members, setMembers] = useState(false);
  const conversation = useHandle(() => client.conversation(conversationId), conversationId);
  const view = useStore(client.conversations).find((v) => v.id === conversationId);
  const users = useUsers(client, view?.members ?? []);
  const peer = view && peerOf(view, self.id);
  const presence = usePresence(client, peer !== undefined && peer !== self.id ? [peer] : []);
  const headingId = useId();
  const status = peer === undefined ? undefined : presence[peer]?.status;

  return (
    <section className="conversation" aria-labelledby={headingId}>
      <header className="conversation-header">
        <button type="button" className="back" aria-label="Back to conversations" onClick={onBack}>
          <BackIcon />
        </button>
        <h2 id={headingId}>{view ? titleOf(view, self.id, users) : "Conversation"}</h2>
        {status === "online" && <span className="status-text">online</span>}
        {peer !== undefined && peer !== self.id && <CallButtons client={client} peerId={peer} />}
        {view?.type === "group" && (
          <button type="button" className="members-button" aria-haspopup="dialog" onClick={() => setMembers(true)}>
            {view.members.length} members
          </button>
        )}
      </header>
      {view?.type === "group" && (
        <GroupMembersDialog client={client} self={self} view={view} open={members} onClose={() => setMembers(false)} onLeft={onLeft} />
      )}
      {conversation ? (
        <Timeline conversation={conversation} attachments={client.attachments} self={self} group={view?.type === "group"} users={users} />
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
  users: Readonly<Record<string, PublicUser>>;
}

/** How close to the end (px) still counts as reading the newest messages. */
const STICK_TO_END_PX = 48;

function Timeline({ conversation, attachments, self, group, users }: TimelineProps) {
  const { items, pending, loaded, hasOlder } = useStore(conversation.messages);
  const typing = useStore(conversation.typing);
  const visible = useVisible();
  const log = useRef<HTMLDivElement>(null);
  const atEnd = useRef(true);
  const sentCount = useRef(pending.length);

  const rows: Row[] = [
    ...items.map((message): Row => ({ kind: "confirmed", message })),
    ...pending.map((message): Row => ({ kind: "local", message })),
  ];
  const lastSeq = items.at(-1)?.seq ?? 0;
  const [replyTo, setReplyTo] = useState<ReplyTarget | null>(null);
  const byId = new Map(items.map((m) => [m.id, m]));
  const name = (id: string) => (id === self.id ? "You" : nameOf(users[id]));

  function quoteOf(message: TimelineMessage): Quote;
  function quoteOf(message: TimelineMessage | undefined): Quote | null;
  function quoteOf(message: TimelineMessage | undefined): Quote | null {
    if (!message) return null;
    const text = message.deletedAt ? "Message deleted" : message.content || (message.attachments?.length ? "Attachment" : "");
    return { sender: name(message.senderId), text };
  }

  // Shown is read, while the page is visible.
  useEffect(() => {
    if (visible && lastSeq > 0) conversation.markRead(lastSeq);
  }, [conversation, visible, lastSeq]);

  // Follow new messages when the reader is at the end, and always after sending one.
  useLayoutEffect(() => {
    if (pending.length > sentCount.current) atEnd.current = true;
    sentCount.current = pending.length;
    const el = log.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [rows.length, pending.length, typing.length]);

  async function loadOlder() {
    const el = log.current;
    const fromEnd = el ? el.scrollHeight - el.scrollTop : 0;
    await conversation.loadOlder().catch(() => false);
    // Keep the messages that were on screen where they were.
    requestAnimationFrame(() => {
      if (el) el.scrollTop = el.scrollHeight - fromEnd;
    });
  }

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
          <button type="button" className="older" onClick={() => void loadOlder()}>
            Load earlier messages
          </button>
        )}
        {!loaded && <p className="placeholder">Loading messages…</p>}
        {loaded && rows.length === 0 && <p className="placeholder">No messages yet. Say hello!</p>}
        <ol className="messages">
          {rows.map((row, i) => {
            const sender = row.message.senderId ?? self.id;
            const previous = rows[i - 1]?.message.senderId ?? self.id;
            const replyToId = row.message.replyToId;
            return (
              <MessageItem
                key={`${sender}:${row.message.clientMsgId}`}
                row={row}
                conversation={conversation}
                attachments={attachments}
                selfId={self.id}
                mine={sender === self.id}
                sender={group && sender !== self.id && (i === 0 || previous !== sender) ? nameOf(users[sender]) : undefined}
                quote={replyToId === undefined ? undefined : quoteOf(byId.get(replyToId))}
                nameOf={name}
                onReply={(message) => setReplyTo({ id: message.id, ...quoteOf(message) })}
              />
            );
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

/** "ada is typing…", "ada and bob are typing…", "3 people are typing…". */
function typingText(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
