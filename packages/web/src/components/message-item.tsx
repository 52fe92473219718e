/** One message: its text, time and, for one's own, where it is: clock, check, double check, or failed. */
import type { LocalMessage, SendState, TimelineMessage } from "@parley/client";

import { clockTime } from "../format.js";
import { AlertIcon, CheckIcon, ClockIcon, DoubleCheckIcon } from "./icons.js";

/** A confirmed message, or one of this client's not acknowledged yet. */
export type Row = { kind: "confirmed"; message: TimelineMessage } | { kind: "local"; message: LocalMessage };

export interface MessageItemProps {
  row: Row;
  mine: boolean;
  /** The sender's name, shown above others' messages in groups. */
  sender?: string | undefined;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}

/** What each send state is called and drawn as. */
const STATES: Record<SendState, { label: string; Icon: () => React.JSX.Element }> = {
  pending: { label: "Sending", Icon: ClockIcon },
  sent: { label: "Sent", Icon: CheckIcon },
  persisted: { label: "Saved", Icon: DoubleCheckIcon },
  failed: { label: "Not sent", Icon: AlertIcon },
};

export function MessageItem({ row, mine, sender, onRetry, onDiscard }: MessageItemProps) {
  const { message } = row;
  // A confirmed message of this user whose state is unknown (history, another device) was acknowledged.
  const state: SendState | undefined = mine ? (message.state ?? "sent") : undefined;
  const at = row.kind === "confirmed" ? row.message.createdAt : new Date(row.message.queuedAt).toISOString();
  const deleted = message.deletedAt !== undefined;
  return (
    <li className={`message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`} data-state={state}>
      {sender && <span className="sender">{sender}</span>}
      <p className="content">{deleted ? "This message was deleted." : message.content}</p>
      <span className="meta">
        {message.editedAt && !deleted && <span className="edited">edited</span>}
        <time dateTime={at}>{clockTime(at)}</time>
        {state && <SendStateIcon state={state} />}
      </span>
      {row.kind === "local" && row.message.state === "failed" && (
        <span className="failed">
          <span className="reason">{row.message.error?.message ?? "The server refused this message."}</span>
          <button type="button" onClick={() => onRetry(row.message.clientMsgId)}>
            Retry
          </button>
          <button type="button" onClick={() => onDiscard(row.message.clientMsgId)}>
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
