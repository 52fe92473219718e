/**
 * The message box: Enter sends, Shift+Enter adds a line, Escape drops the reply; typing tells the others.
 * Beside it: files to attach and a voice note to record.
 */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";

import type { Conversation } from "@parley/client";

import { AttachIcon, SendIcon } from "./icons.js";
import { VoiceRecorder } from "./voice-recorder.js";

/** Sends each file as a message of its own, the first with `caption` (and the reply) if any. */
export function sendFiles(conversation: Conversation, files: FileList | readonly File[], caption?: string, replyToId?: string): void {
  [...files].forEach((file, i) => {
    conversation.sendFile(file, i === 0 ? { ...(caption ? { caption } : {}), ...(replyToId ? { replyToId } : {}) } : {});
  });
}

/** The message a reply is being written to, quoted above the box. */
export interface ReplyTarget {
  id: string;
  sender: string;
  text: string;
}

export interface ComposerProps {
  conversation: Conversation;
  replyTo: ReplyTarget | null;
  onCancelReply: () => void;
}

export function Composer({ conversation, replyTo, onCancelReply }: ComposerProps) {
  const [text, setText] = useState("");
  const box = useRef<HTMLTextAreaElement>(null);
  const fileId = useId();

  // Choosing "Reply" is choosing to write.
  useEffect(() => {
    if (replyTo) box.current?.focus();
  }, [replyTo]);

  function send() {
    const content = text.trim();
    if (!content) return;
    conversation.send(replyTo ? { content, replyToId: replyTo.id } : { content });
    setText("");
    onCancelReply();
  }

  /** Files picked, pasted or dropped: sent at once, with what the box holds as the first one's caption. */
  function attach(files: FileList | readonly File[]) {
    if (files.length === 0) return;
    sendFiles(conversation, files, text.trim() || undefined, replyTo?.id);
    setText("");
    onCancelReply();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Escape" && replyTo) {
      event.preventDefault();
      onCancelReply();
      return;
    }
    // Not while an input method composes a character (Enter then picks the candidate).
    if (event.key !== "Enter" || event.shiftKey || event.nativeEvent.isComposing) return;
    event.preventDefault();
    send();
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      {replyTo && (
        <div className="replying" role="group" aria-label="Replying to">
          <blockquote className="quote">
            <span className="quote-sender">{replyTo.sender}</span> <span className="quote-text">{replyTo.text}</span>
          </blockquote>
          <button type="button" aria-label="Cancel reply" onClick={onCancelReply}>
            ×
          </button>
        </div>
      )}
      <input
        id={fileId}
        type="file"
        multiple
        className="file-input sr-only"
        onChange={(event) => {
          attach([...(event.target.files ?? [])]);
          event.target.value = "";
        }}
      />
      <label htmlFor={fileId} className="attach" title="Attach files">
        <AttachIcon />
        <span className="sr-only">Attach files</span>
      </label>
      <VoiceRecorder onRecorded={(file) => attach([file])} />
      <textarea
        ref={box}
        aria-label="Message"
        placeholder="Write a message"
        rows={1}
        // A conversation opened is a conversation to write in (and on a phone the list it was picked
        // from is gone).
        autoFocus
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          if (event.target.value.trim()) conversation.keystroke();
          else conversation.stopTyping();
        }}
        onBlur={() => conversation.stopTyping()}
        onPaste={(event) => {
          if (event.clipboardData.files.length === 0) return;
          event.preventDefault();
          attach([...event.clipboardData.files]);
        }}
        onKeyDown={onKeyDown}
      />
      <button type="submit" className="primary send" aria-label="Send" disabled={!text.trim()}>
        <SendIcon />
      </button>
    </form>
  );
}

