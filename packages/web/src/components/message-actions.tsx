/**
 * What can be done to a confirmed message: reply, react (a toggle per emoji), and for one's own, edit
 * and delete. Every control is a named button, reachable by Tab; the bar shows on hover and on focus.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from "react";

import type { TimelineMessage } from "@parley/client";

/** The emoji offered in the picker. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🎉"] as const;

export interface MessageActionsProps {
  mine: boolean;
  onReply: () => void;
  onReact: (emoji: string) => void;
  onEdit: () => void;
  onDelete: () => void;
}

export function MessageActions({ mine, onReply, onReact, onEdit, onDelete }: MessageActionsProps) {
  const [picking, setPicking] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const reactButton = useRef<HTMLButtonElement>(null);

  if (confirming) {
    return (
      <div className="actions confirm" role="group" aria-label="Delete this message?">
        <span>Delete this message?</span>
        <button type="button" className="danger" autoFocus onClick={() => (setConfirming(false), onDelete())}>
          Delete
        </button>
        <button type="button" onClick={() => setConfirming(false)}>
          Keep
        </button>
      </div>
    );
  }

  function closePicker(event: KeyboardEvent) {
    if (event.key !== "Escape") return;
    setPicking(false);
    reactButton.current?.focus();
  }

  return (
    <div className="actions" role="group" aria-label="Message actions">
      <button type="button" onClick={onReply}>
        Reply
      </button>
      <button type="button" ref={reactButton} aria-expanded={picking} onClick={() => setPicking((p) => !p)}>
        React
      </button>
      {picking && (
        <span className="picker" role="group" aria-label="Choose a reaction" onKeyDown={closePicker}>
          {QUICK_REACTIONS.map((emoji, i) => (
            <button
              key={emoji}
              type="button"
              aria-label={`React with ${emoji}`}
              autoFocus={i === 0}
              onClick={() => {
                setPicking(false);
                onReact(emoji);
              }}
            >
              {emoji}
            </button>
          ))}
        </span>
      )}
      {mine && (
        <>
          <button type="button" onClick={onEdit}>
            Edit
          </button>
          <button type="button" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </>
      )}
    </div>
  );
}

export interface ReactionsProps {
  message: TimelineMessage;
  selfId: string;
  nameOf: (userId: string) => string;
  onToggle: (emoji: string) => void;
}

/** Each emoji once with its count; pressed when this user reacted with it; who reacted in its name. */
export function Reactions({ message, selfId, nameOf, onToggle }: ReactionsProps) {
  const entries = Object.entries(message.reactions ?? {}).filter(([, ids]) => ids.length > 0);
  if (entries.length === 0) return null;
  return (
    <ul className="reactions" aria-label="Reactions">
      {entries.map(([emoji, ids]) => {
        const who = ids.map((id) => (id === selfId ? "you" : nameOf(id))).join(", ");
        return (
          <li key={emoji}>
            <button
              type="button"
              className="reaction"
              aria-pressed={ids.includes(selfId)}
              aria-label={`${emoji} ${ids.length}: ${who}`}
              title={who}
              onClick={() => onToggle(emoji)}
            >
              <span aria-hidden="true">{emoji}</span>
              <span className="count">{ids.length}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

export interface EditFormProps {
  initial: string;
  onSave: (content: string) => void;
  onCancel: () => void;
}

/** The text of a message being edited: Enter saves, Shift+Enter adds a line, Escape gives up. */
export function EditForm({ initial, onSave, onCancel }: EditFormProps) {
  const [text, setText] = useState(initial);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = box.current;
    el?.focus();
    el?.setSelectionRange(el.value.length, el.value.length);
  }, []);

  function save() {
    const content = text.trim();
    if (content && content !== initial) onSave(content);
    else onCancel();
  }

  return (
    <form
      className="edit-form"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <textarea
        ref={box}
        aria-label="Edit message"
        rows={1}
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Escape") {
            event.preventDefault();
            onCancel();
          } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
            event.preventDefault();
            save();
          }
        }}
      />
      <button type="submit" className="primary">
        Save
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}
