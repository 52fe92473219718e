/** The conversations, most recent activity first: last message, unread badge, presence of direct peers. */
import type { ConversationView, ParleyClient, Presence } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { peerOf, shortTime, summaryOf, titleOf } from "../format.js";
import { usePresence, useStore } from "../hooks.js";
import { nameOf, useUsers } from "../users.js";

export interface ConversationListProps {
  client: ParleyClient;
  self: PublicUser;
  openId: string | null;
  onOpen: (conversationId: string) => void;
}

export function ConversationList({ client, self, openId, onOpen }: ConversationListProps) {
  const views = useStore(client.conversations);
  const peers = views.flatMap((v) => peerOf(v, self.id) ?? []);
  const users = useUsers(client, [...peers, ...views.flatMap((v) => (v.lastMessage ? [v.lastMessage.senderId] : []))]);
  const presence = usePresence(client, peers.filter((p) => p !== self.id));

  return (
    <nav className="conversations" aria-label="Conversations">
      {views.length === 0 ? (
        <p className="placeholder">No conversations yet.</p>
      ) : (
        <ul>
          {views.map((view) => {
            const peer = peerOf(view, self.id);
            return (
              <li key={view.id}>
                <ConversationRow
                  view={view}
                  title={titleOf(view, self.id, users)}
                  preview={previewOf(view, self.id, users)}
                  presence={peer !== undefined && peer !== self.id ? presence[peer] : undefined}
                  direct={view.type === "direct"}
                  open={view.id === openId}
                  onOpen={() => onOpen(view.id)}
                />
              </li>
            );
          })}
        </ul>
      )}
    </nav>
  );
}

interface RowProps {
  view: ConversationView;
  title: string;
  preview: string;
  presence: Presence | undefined;
  direct: boolean;
  open: boolean;
  onOpen: () => void;
}

function ConversationRow({ view, title, preview, presence, direct, open, onOpen }: RowProps) {
  const unread = open ? 0 : view.unreadCount;
  const online = presence?.status === "online";
  return (
    <button type="button" className="conversation-row" aria-current={open ? "true" : undefined} onClick={onOpen} data-conversation-id={view.id}>
      <span className="avatar" aria-hidden="true">
        {title.slice(0, 1).toUpperCase()}
      </span>
      {direct && (
        <span className={`presence ${online ? "online" : "offline"}`} role="img" aria-label={online ? "online" : "offline"} data-testid="presence" />
      )}
      <span className="row-main">
        <span className="row-title">{title}</span>
        <span className="row-preview">{preview}</span>
      </span>
      <span className="row-meta">
        {view.lastMessage && <time dateTime={view.lastMessage.createdAt}>{shortTime(view.lastMessage.createdAt)}</time>}
        {unread > 0 && (
          <span className="badge" data-testid="unread">
            {unread}
            <span className="sr-only"> unread</span>
          </span>
        )}
      </span>
    </button>
  );
}

/** The last message in a line: "You: …" for one's own, the sender's name in groups. */
function previewOf(view: ConversationView, self: string, users: Readonly<Record<string, PublicUser>>): string {
  const last = view.lastMessage;
  if (!last) return "No messages yet";
  const text = summaryOf(last);
  if (last.senderId === self) return `You: ${text}`;
  return view.type === "group" ? `${nameOf(users[last.senderId])}: ${text}` : text;
}
