/** Find a user by the start of their username, and open the direct chat with them. */
import { useId, useState } from "react";

import type { ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { describeError } from "../errors.js";
import { nameOf, useUserSearch } from "../users.js";

export interface UserSearchProps {
  client: ParleyClient;
  self: PublicUser;
  onOpen: (conversationId: string) => void;
}

export function UserSearch({ client, self, onOpen }: UserSearchProps) {
  const [query, setQuery] = useState("");
  const [openError, setOpenError] = useState<string>();
  const inputId = useId();
  const { results, error: searchError } = useUserSearch(client, query, [self.id]);
  const error = openError ?? searchError;

  async function open(user: PublicUser) {
    try {
      const { conversation } = await client.rest.call("conversations.create", { body: { type: "direct", userId: user.id } });
      setQuery("");
      setOpenError(undefined);
      onOpen(conversation.id);
    } catch (err) {
      setOpenError(describeError(err));
    }
  }

  return (
    <search className="user-search">
      <label htmlFor={inputId} className="sr-only">
        Find a user
      </label>
      <input
        id={inputId}
        type="search"
        placeholder="Find a user…"
        autoComplete="off"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => e.key === "Escape" && setQuery("")}
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {results && (
        <ul className="results" aria-label="Users found">
          {results.length === 0 && <li className="placeholder">Nobody by that name.</li>}
          {results.map((user) => (
            <li key={user.id}>
              <button type="button" onClick={() => void open(user)} aria-label={`Chat with ${nameOf(user)} (@${user.username})`}>
                <span className="row-title">{nameOf(user)}</span> <span className="username">@{user.username}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </search>
  );
}
