/** Find a user by the start of their username, and open the direct chat with them. */
import { useEffect, useId, useState } from "react";

import type { ParleyClient } from "@parley/client";
import type { PublicUser } from "@parley/protocol";

import { describeError } from "../errors.js";
import { directoryOf, nameOf } from "../users.js";

export interface UserSearchProps {
  client: ParleyClient;
  self: PublicUser;
  onOpen: (conversationId: string) => void;
}

/** How long typing pauses before a search goes out. */
const SEARCH_DELAY_MS = 250;

export function UserSearch({ client, self, onOpen }: UserSearchProps) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<{ query: string; users: readonly PublicUser[] } | null>(null);
  const [error, setError] = useState<string>();
  const inputId = useId();
  const q = query.trim();

  useEffect(() => {
    if (!q) return;
    let current = true;
    const timer = setTimeout(() => {
      client.rest.call("users.search", { query: { q, limit: 10 } }).then(
        ({ users }) => {
          if (!current) return;
          directoryOf(client).add(users);
          setFound({ query: q, users: users.filter((u) => u.id !== self.id) });
          setError(undefined);
        },
        (err: unknown) => current && setError(describeError(err)),
      );
    }, SEARCH_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, q, self.id]);

  async function open(user: PublicUser) {
    try {
      const { conversation } = await client.rest.call("conversations.create", { body: { type: "direct", userId: user.id } });
      setQuery("");
      setFound(null);
      onOpen(conversation.id);
    } catch (err) {
      setError(describeError(err));
    }
  }

  const results = q && found?.query === q ? found.users : null;
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
