/** The message box: Enter sends, Shift+Enter adds a line; typing tells the others. */
import { useState, type KeyboardEvent } from "react";

import type { Conversation } from "@parley/client";

import { SendIcon } from "./icons.js";

export interface ComposerProps {
  conversation: Conversation;
}

export function Composer({ conversation }: ComposerProps) {
  const [text, setText] = useState("");

  function send() {
    const content = text.trim();
    if (!content) return;
    conversation.send({ content });
    setText("");
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
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
      <textarea
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
        onKeyDown={onKeyDown}
      />
      <button type="submit" className="primary send" aria-label="Send" disabled={!text.trim()}>
        <SendIcon />
      </button>
    </form>
  );
}

