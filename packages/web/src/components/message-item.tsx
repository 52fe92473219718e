/**
 * One message: the message it replies to, its text, reactions, time and, for one's own, where it is:
 * clock, check, double check, or failed, and who has read up to it. A confirmed message has its actions
 * (message-actions.tsx).
 */
import { useState } from "react";

import type { Attachments, Conversation, LocalMessage, SendState, TimelineMessage } from "@parley/client";

import { describeError } from "../errors.js";
import { clockTime } from "../format.js";
import { PendingAttachments, SentAttachments } from "./attachments.js";
import { AlertIcon, CheckIcon, ClockIcon, DoubleCheckIcon } from "./icons.js";
import { EditForm, MessageActions, Reactions } from "./message-actions.js";

/** A confirmed message, or one of this client's not acknowledged yet. */
export type Row = { kind: "confirmed"; message: TimelineMessage } | { kind: "local"; message: LocalMessage };

/** The message a reply quotes, as far as this client has it. */
export interface Quote {
  sender: string;
  text: string;
}

export interface MessageItemProps {
  row: Row;
  conversation: Conversation;
  attachments: Attachments;
  selfId: string;
  mine: boolean;
  /** The sender's name, shown above others' messages in groups. */
  sender?: string | undefined;
  /** What the message replies to: a quote, or null when that message is not loaded here. */
  quote?: Quote | null | undefined;
  /** Who has read up to this message, and no further: their names (own messages only). */
  readBy?: readonly string[] | undefined;
  nameOf: (userId: string) => string;
  onReply: (message: TimelineMessage) => void;
}

/** What each send state is called and drawn as. */
const STATES: Record<SendState, { label: string; Icon: () => React.JSX.Element }> = {
  pending: { label: "Sending", Icon: ClockIcon },
  sent: { label: "Sent", Icon: CheckIcon },
  persisted: { label: "Saved", Icon: DoubleCheckIcon },
  failed: { label: "Not sent", Icon: AlertIcon },
};

export function MessageItem({ row, conversation, attachments, selfId, mine, sender, quote, readBy, nameOf, onReply }: MessageItemProps) {
  const { message } = row;
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string>();
  // A confirmed message of this user whose state is unknown (history, another device) was acknowledged.
  const state: SendState | undefined = mine ? (message.state ?? "sent") : undefined;
  const at = row.kind === "confirmed" ? row.message.createdAt : new Date(row.message.queuedAt).toISOString();
  const deleted = message.deletedAt !== undefined;

  /** Runs an action on the server; its refusal shows under the message. */
  function act(action: () => Promise<unknown>, after?: () => void) {
    setError(undefined);
    action().then(after, (err: unknown) => setError(describeError(err)));
  }

  return (
    <li
      className={`message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`}
      data-state={state}
      data-message-id={message.id}
      data-seq={row.kind === "confirmed" ? row.message.seq : undefined}
    >
      {sender && <span className="sender">{sender}</span>}
      {quote !== undefined && !deleted && (
        <blockquote className="quote">
          {quote ? (
            <>
              <span className="quote-sender">{quote.sender}</span> <span className="quote-text">{quote.text}</span>
            </>
          ) : (
            <span className="quote-text">An earlier message</span>
          )}
        </blockquote>
      )}
      {editing && row.kind === "confirmed" ? (
        <EditForm
          initial={message.content}
          onCancel={() => setEditing(false)}
          onSave={(content) => act(() => conversation.edit(row.message.id, content), () => setEditing(false))}
        />
      ) : (
        (deleted || message.content) && <p className="content">{deleted ? "Message deleted" : message.content}</p>
      )}
      {!deleted && row.kind === "confirmed" && row.message.attachments?.length ? (
        <SentAttachments attachments={attachments} items={row.message.attachments} />
      ) : null}
      {row.kind === "local" && row.message.attachments?.length ? <PendingAttachments items={row.message.attachments} /> : null}
      {row.kind === "confirmed" && !deleted && (
        <Reactions message={row.message} selfId={selfId} nameOf={nameOf} onToggle={(emoji) => act(() => conversation.react(row.message.id, emoji))} />
      )}
      <div className="footer">
        {row.kind === "confirmed" && !deleted && !editing && (
          <MessageActions
            mine={mine}
            onReply={() => onReply(row.message)}
            onReact={(emoji) => act(() => conversation.react(row.message.id, emoji))}
            onEdit={() => setEditing(true)}
            onDelete={() => act(() => conversation.remove(row.message.id))}
          />
        )}
        <span className="meta">
          {message.editedAt && !deleted && <span className="edited">edited</span>}
          <time dateTime={at}>{clockTime(at)}</time>
          {state && <SendStateIcon state={state} />}
          {readBy && readBy.length > 0 && <ReadBy names={readBy} />}
        </span>
      </div>
      {error && (
        <p className="action-error" role="alert">
          {error}
        </p>
      )}
      {row.kind === "local" && row.message.state === "failed" && (
        <span className="failed">
          <span className="reason">{row.message.error?.message ?? "The server refused this message."}</span>
          <button type="button" onClick={() => conversation.retry(row.message.clientMsgId)}>
            Retry
          </button>
          <button type="button" onClick={() => conversation.discard(row.message.clientMsgId)}>
            Discard
          </button>
        </span>
      )}
    </li>
  );
}

function SendStateIcon({ state }: { state: SendState }) {
  const { label, Icon } = STATES[state];
  return (
    <span className={`send-state ${state}`} role="img" aria-label={label} title={label} data-testid="send-state">
      <Icon />
    </span>
  );
}

/** Most readers drawn; the others are counted ("+2"). Every name is in the accessible name. */
const READERS_SHOWN = 3;

/** Who has read up to here: their initials, small, after the send state (Messenger's read avatars). */
function ReadBy({ names }: { names: readonly string[] }) {
  const label = `Read by ${names.join(", ")}`;
  const more = names.length - READERS_SHOWN;
  return (
    <span className="read-by" role="img" aria-label={label} title={label} data-testid="read-by">
      {names.slice(0, READERS_SHOWN).map((n, i) => (
        <span key={i} className="reader">
          {n.slice(0, 1).toUpperCase()}
        </span>
      ))}
      {more > 0 && <span className="more">+{more}</span>}
    </span>
  );
}
