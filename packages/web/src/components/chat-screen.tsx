/** The logged-in app: the conversation list beside the open conversation (one or the other on a phone). */
import { useEffect, useState } from "react";

import type { ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { auth } from "../session.js";
import { directoryOf, nameOf } from "../users.js";
import { AboutPanel } from "./about-panel.js";
import { CallOverlay } from "./call-overlay.js";
import { ConnectionBanner } from "./connection-banner.js";
import { ConversationList } from "./conversation-list.js";
import { MessageView } from "./message-view.js";
import { NewGroupDialog } from "./new-group-dialog.js";
import { UserSearch } from "./user-search.js";

export interface ChatScreenProps {
  client: ParleyClient;
  self: PublicUser;
}

/** Where the tab keeps its open conversation, so that a reload (offline too) opens it again. */
const openKey = (userId: string) => `parley.open-conversation.${userId}`;

/** The conversation this tab had open before a reload; null for none (or no sessionStorage). */
function remembered(userId: string): string | null {
  try {
    return sessionStorage.getItem(openKey(userId));
  } catch {
    return null;
  }
}

export function ChatScreen({ client, self }: ChatScreenProps) {
  const [openId, setOpenId] = useState<string | null>(() => remembered(self.id));
  const [about, setAbout] = useState(false);
  const [newGroup, setNewGroup] = useState(false);
  /** Why the open conversation closed by itself ("You are no longer in …"), until another opens. */
  const [notice, setNotice] = useState("");
  useEffect(() => directoryOf(client).add([self]), [client, self]);
  useEffect(() => {
    if (openId) setNotice("");
    try {
      if (openId) sessionStorage.setItem(openKey(self.id), openId);
      else sessionStorage.removeItem(openKey(self.id));
    } catch {
      // Storage disabled: a reload shows the list.
    }
  }, [openId, self.id]);

  /** Back to the list (phones): focus goes to the conversation just left, not to the page's start. */
  function back(conversationId: string) {
    setOpenId(null);
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-conversation-id="${conversationId}"]`)?.focus());
  }

  return (
    <div className="chat" data-view={openId ? "conversation" : "list"}>
      <header className="topbar">
        <span className="brand">parley</span>
        <span className="me" title={`@${self.username}`}>
          {nameOf(self)}
        </span>
        <button type="button" aria-haspopup="dialog" onClick={() => setAbout(true)}>
          About
        </button>
        <button type="button" onClick={() => void auth.logout().catch(() => undefined)}>
          Log out
        </button>
      </header>
      <ConnectionBanner client={client} />
      <div className="banner notice" role="status" data-testid="notice">
        {notice}
      </div>
      <CallOverlay client={client} />
      <div className="panes">
        <aside className="sidebar">
          <UserSearch client={client} self={self} onOpen={setOpenId} />
          <button type="button" className="new-group" aria-haspopup="dialog" onClick={() => setNewGroup(true)}>
            New group
          </button>
          <ConversationList client={client} self={self} openId={openId} onOpen={setOpenId} />
        </aside>
        <main className="conversation-pane">
          {openId ? (
            <MessageView
              key={openId}
              client={client}
              self={self}
              conversationId={openId}
              onBack={() => back(openId)}
              onGone={(text) => {
                setOpenId(null);
                setNotice(text);
              }}
            />
          ) : (
            <p className="placeholder">Choose a conversation, or find someone to chat with.</p>
          )}
        </main>
      </div>
      <AboutPanel client={client} self={self} open={about} onClose={() => setAbout(false)} />
      <NewGroupDialog client={client} self={self} open={newGroup} onClose={() => setNewGroup(false)} onCreated={setOpenId} />
    </div>
  );
}
